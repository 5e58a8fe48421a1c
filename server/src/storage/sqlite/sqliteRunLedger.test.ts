import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import pino from 'pino';
import {
  AppError,
  createClientMessageId,
  createThreadId,
  type AgentEvent,
  type Run,
  type UserId,
} from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { deltaDrafts } from '../../events/eventLog.contract.js';
import { describeRunLedgerContract } from '../runLedger.contract.js';
import { failedOutcome, reconcileRuns } from '../runLedger.js';
import type { ChatStore } from '../chatStore.js';
import { openSqliteStorage } from './index.js';
import { MIGRATIONS } from './migrations.js';
import type { SqliteEventLog } from './sqliteEventLog.js';
import { openLedgerFixture, openTestStorage, tempDir } from './__tests__/testStorage.js';

describeRunLedgerContract('sqlite', () => openLedgerFixture());

const logger = pino({ level: 'silent' });
const SHUTDOWN = { code: 'SHUTDOWN', message: 'stopped' } as const;
const seqs = (events: readonly AgentEvent[]) => events.map((e) => e.seq);

async function runningRun(store: ChatStore, userId = 'u1' as UserId): Promise<Run> {
  const thread = await store.createThread({ userId, title: 't', agent: 'demo' });
  const { run } = await store.createMessageAndRun({
    threadId: thread.id,
    userId,
    content: 'hi',
    clientMessageId: createClientMessageId(),
    agent: 'demo',
  });
  return store.updateRun(run.id, { status: 'running' });
}

/** `runs.terminal_seq` of each run, read from the file. */
function terminalSeqs(file: string, runs: readonly Run[]): (number | null)[] {
  const sqlite = new Database(file, { readonly: true });
  try {
    const stmt = sqlite.prepare('select terminal_seq from runs where id = ?');
    return runs.map((r) => (stmt.get(r.id) as { terminal_seq: number | null }).terminal_seq);
  } finally {
    sqlite.close();
  }
}

describe('SQLite run ledger', () => {
  test('a run ends while another connection holds the write lock: the batch waits for it (busy timeout) instead of failing at once', async () => {
    await using storage = await openTestStorage();
    const run = await runningRun(storage.store);
    // Another process takes the write lock for 300 ms. A batch holding only the ledger's
    // write reads the run first: as a deferred transaction it would then be refused at once
    // (SQLITE_BUSY, no busy handler for an upgrade), leaving the run unfinished.
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const D = require(${JSON.stringify(driver)}); const db = new D(${JSON.stringify(storage.file)});
         db.exec('begin immediate'); process.stdout.write('locked\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
         db.exec('commit'); db.close();`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<number | null>((resolve) => holder.once('exit', resolve));
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const ended = await storage.ledger.finishRun({
      run,
      outcome: { kind: 'completed', answer: 'after the lock' },
    });
    expect(ended.run.status).toBe('completed');
    expect(ended.event?.type).toBe('agent_completed');
    expect(await exited).toBe(0);
  });

  test('a run ends inside the log’s batch: after the appends accepted in the same turn, listeners in seq order', async () => {
    await using storage = await openTestStorage();
    const run = await runningRun(storage.store);
    const heard: number[] = [];
    storage.events.subscribe(run.threadId, (e) => heard.push(e.seq));
    const drafts = deltaDrafts({ threadId: run.threadId, runId: run.id, n: 2 });
    const before = storage.events.append(run.threadId, drafts);
    const ended = storage.ledger.finishRun({ run, outcome: { kind: 'completed', answer: 'a' } });
    const after = storage.events.append(
      run.threadId,
      deltaDrafts({ threadId: run.threadId, n: 1 }),
    );
    expect(seqs(await before)).toEqual([1, 2]);
    expect(seqs(await after)).toEqual([3]);
    expect((await ended).event?.seq).toBe(4);
    expect(heard).toEqual([1, 2, 3, 4]);
  });

  test('a write that throws is rolled back alone: its events take no position and reach no listener', async () => {
    await using storage = await openTestStorage();
    const threadId = createThreadId();
    const fresh = createThreadId();
    const heard: number[] = [];
    storage.events.subscribe(threadId, (e) => heard.push(e.seq));
    const first = storage.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
    const failed = new Promise<AppError | null>((resolve) => {
      (storage.events as SqliteEventLog).enqueueWrite(
        (append) => {
          append(threadId, deltaDrafts({ threadId, n: 3 }));
          append(fresh, deltaDrafts({ threadId: fresh, n: 1 }));
          throw new AppError('CONFLICT', 'refused');
        },
        (err) => resolve(err),
      );
    });
    expect(await failed).toMatchObject({ code: 'CONFLICT' });
    expect(seqs(await first)).toEqual([1, 2]);
    const next = await storage.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
    expect(seqs(next)).toEqual([3]);
    expect(heard).toEqual([1, 2, 3]);
    expect(seqs(await storage.events.read(threadId, 0, 10))).toEqual([1, 2, 3]);
    // The stream the write created went with it; the thread starts at 1.
    expect(
      seqs(await storage.events.append(fresh, deltaDrafts({ threadId: fresh, n: 1 }))),
    ).toEqual([1]);
  });

  test('a terminal event that cannot be stored leaves the run unfinished: the record rolls back with it', async () => {
    using tmp = tempDir();
    const file = path.join(tmp.dir, 'data.db');
    const a = await openSqliteStorage({ file, logger });
    const b = await openSqliteStorage({ file, logger });
    try {
      const run = await runningRun(a.store);
      await b.events.head(run.threadId);
      await a.events.append(
        run.threadId,
        deltaDrafts({ threadId: run.threadId, runId: run.id, n: 2 }),
      );
      // `b` believes the stream is empty: its terminal event takes seq 1, which is stored.
      const refused = await b.ledger
        .finishRun({ run, outcome: { kind: 'completed', answer: 'lost' } })
        .then(
          () => null,
          (err: unknown) => err,
        );
      expect(refused).toMatchObject({ code: 'INTERNAL' });
      expect(await a.store.getRun(run.id)).toMatchObject({ status: 'running', endedAt: null });
      expect((await a.store.listMessages(run.threadId, { limit: 10 })).items).toHaveLength(1);
      const ended = await a.ledger.finishRun({
        run,
        outcome: { kind: 'completed', answer: 'kept' },
      });
      expect(ended.event).toMatchObject({ seq: 3, message: { content: 'kept' } });
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('finishing after close fails with UNAVAILABLE', async () => {
    await using storage = await openTestStorage();
    const run = await runningRun(storage.store);
    await storage.close();
    await expect(
      storage.ledger.finishRun({
        run,
        outcome: failedOutcome({ code: 'CANCELLED', message: 'x' }),
      }),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  test('migration 003 links finished runs to their terminal events, leaves the broken ones to reconcile and marks the pruned ones', async () => {
    using tmp = tempDir();
    const file = path.join(tmp.dir, 'data.db');
    const storage = await openSqliteStorage({ file, logger });
    const { store, events, ledger } = storage;
    const healthy = await runningRun(store);
    await events.append(
      healthy.threadId,
      deltaDrafts({ threadId: healthy.threadId, runId: healthy.id, n: 2 }),
    );
    const end = await ledger.finishRun({
      run: healthy,
      outcome: { kind: 'completed', answer: 'ok' },
    });
    // Issue 22 before the fix: the record committed, the process died before the event.
    const broken = await runningRun(store);
    await events.append(
      broken.threadId,
      deltaDrafts({ threadId: broken.threadId, runId: broken.id, n: 2 }),
    );
    await store.completeRun({ runId: broken.id, content: 'never announced' });
    // Ended long ago; retention (here a reset) has deleted every event of it since.
    const pruned = await runningRun(store);
    await ledger.finishRun({
      run: pruned,
      outcome: failedOutcome({ code: 'TIMEOUT', message: 't' }),
    });
    await events.resetStream(pruned.threadId);
    const open = await runningRun(store);
    await storage.close();

    // Back to 002 (drops the column), then up again: the backfill runs on these rows.
    {
      const db = new Kysely<unknown>({
        dialect: new SqliteDialect({ database: new Database(file) }),
      });
      const m = new Migrator({
        db,
        provider: { getMigrations: () => Promise.resolve(MIGRATIONS) },
      });
      const { error } = await m.migrateTo('002_append_order_events');
      await db.destroy();
      expect(error).toBeUndefined();
    }
    const again = await openSqliteStorage({ file, logger });
    try {
      expect(terminalSeqs(file, [healthy, broken, pruned, open])).toEqual([
        end.event!.seq,
        null,
        0,
        null,
      ]);
      const listed = (await again.ledger.listRunsToReconcile()).map((r) => r.id);
      expect(listed).toEqual([broken.id, open.id]);
      expect(await reconcileRuns({ ledger: again.ledger, abandoned: SHUTDOWN })).toMatchObject({
        emitted: 1,
        ended: 1,
        failed: 0,
      });
      const log = await again.events.read(broken.threadId, 0, 10);
      expect(log.map((e) => [e.seq, e.type])).toEqual([
        [1, 'message_delta'],
        [2, 'message_delta'],
        [3, 'agent_completed'],
      ]);
      expect(await again.events.read(pruned.threadId, 0, 10)).toEqual([]);
      expect(await again.ledger.listRunsToReconcile()).toEqual([]);
    } finally {
      await again.close();
    }
  });
});
