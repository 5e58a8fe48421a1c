import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

/** A fresh WAL-mode database file with a table `t`, closed and removed on dispose. */
export interface WalDatabase extends Disposable {
  sqlite: Database.Database;
  file: string;
}

/** Opens one for a test; `pragmas` are applied after WAL mode, before the table is created. */
export function openWalDatabase(table: string, pragmas: string[] = []): WalDatabase {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracewire-wal-'));
  const file = path.join(dir, 'test.db');
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  for (const p of pragmas) sqlite.pragma(p);
  sqlite.exec(`create table t (${table})`);
  return {
    sqlite,
    file,
    [Symbol.dispose]: () => {
      if (sqlite.open) sqlite.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
