import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, test } from 'vitest';
import { startCheckpointer } from './checkpointer.js';

test('under a write load that never pauses, the WAL stays bounded: the worker restarts it past maxWalFrames', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracewire-ckpt-'));
  const file = path.join(dir, 'w.db');
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.exec('create table t (k integer primary key, v text)');
  const checkpointer = startCheckpointer({ file, sqlite, intervalMs: 10, maxWalFrames: 256 });
  try {
    const insert = sqlite.prepare('insert or replace into t (k, v) values (?, ?)');
    const value = 'x'.repeat(3000);
    let written = 0;
    let largestWal = 0;
    const until = Date.now() + 1_500;
    // Many small commits spread over the whole key space: every commit dirties new pages.
    for (let i = 0; Date.now() < until; i++) {
      sqlite.transaction(() => {
        for (let j = 0; j < 8; j++) insert.run((i * 7919 + j * 104729) % 20_000, value);
      })();
      written += 8 * value.length;
      largestWal = Math.max(largestWal, fs.statSync(`${file}-wal`).size);
      await new Promise((r) => setTimeout(r, 1));
    }
    // Without the restart the WAL holds every page ever committed (PASSIVE never catches up).
    expect(written).toBeGreaterThan(20 * 2 ** 20);
    expect(largestWal).toBeLessThan(8 * 2 ** 20);
    expect(sqlite.prepare('select count(*) as n from t').get()).toMatchObject({
      n: expect.any(Number) as number,
    });
  } finally {
    await checkpointer.stop();
    sqlite.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
