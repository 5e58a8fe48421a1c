import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { isTerminalEvent } from '@tracewire/shared';
import type { RunLedgerFixture } from '../../runLedger.contract.js';
import { statusForCode } from '../../runLedger.js';
import { openSqliteStorage, type SqliteStorage, type SqliteStorageOptions } from '../index.js';

/** A fresh temp directory, removed on dispose. */
export function tempDir(): { dir: string } & Disposable {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracewire-sqlite-'));
  return { dir, [Symbol.dispose]: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Opens storage on a fresh file in a temp dir; disposing closes it and removes the dir. */
export async function openTestStorage(
  opts: Partial<SqliteStorageOptions> = {},
): Promise<SqliteStorage & { file: string } & AsyncDisposable> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracewire-sqlite-'));
  const file = path.join(dir, 'nested', 'tracewire.db');
  const storage = await openSqliteStorage({ file, logger: pino({ level: 'silent' }), ...opts });
  return {
    ...storage,
    file,
    [Symbol.asyncDispose]: async () => {
      await storage.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The run ledger contract's fixture on a fresh file. Its `halfEnd` hooks write a run's end
 * the way the server did before issue 22 (the record in one commit, the event in another),
 * each half alone.
 */
export async function openLedgerFixture(): Promise<RunLedgerFixture> {
  const storage = await openTestStorage();
  return {
    store: storage.store,
    events: storage.events,
    ledger: storage.ledger,
    halfEnd: {
      async recordOnly(run, outcome) {
        if (outcome.kind === 'completed') {
          await storage.store.completeRun({ runId: run.id, content: outcome.answer });
          return;
        }
        const error = { code: outcome.code, message: outcome.message };
        await storage.store.updateRun(run.id, { status: statusForCode(outcome.code), error });
      },
      async eventOnly(draft) {
        const [event] = await storage.events.append(draft.threadId, [draft]);
        if (!event || !isTerminalEvent(event)) throw new Error('terminal event not stored');
        return event;
      },
    },
    [Symbol.asyncDispose]: () => storage[Symbol.asyncDispose](),
  };
}
