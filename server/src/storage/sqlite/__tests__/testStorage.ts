import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
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
