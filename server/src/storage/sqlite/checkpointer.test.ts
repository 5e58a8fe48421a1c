import fs from 'node:fs';
import { expect, test } from 'vitest';
import { startCheckpointer } from './checkpointer.js';
import { openWalDatabase } from './__tests__/walDatabase.js';

test('under a write load that never pauses, the WAL stays bounded: the worker restarts it past maxWalFrames', async () => {
  using db = openWalDatabase('k integer primary key, v text', [
    'synchronous = NORMAL',
    'busy_timeout = 5000',
  ]);
  const { sqlite, file } = db;
  const checkpointer = startCheckpointer({ file, sqlite, intervalMs: 10, maxWalFrames: 256 });
  try {
    const insert = sqlite.prepare('insert or replace into t (k, v) values (?, ?)');
    const value = 'x'.repeat(3000);
    let written = 0;
    let largestWal = 0;
    // Many small commits spread over the whole key space: every commit dirties new pages.
    // Bounded by volume, not time, so a busy machine only makes it slower.
    for (let i = 0; written <= 24 * 2 ** 20; i++) {
      sqlite.transaction(() => {
        for (let j = 0; j < 8; j++) insert.run((i * 7919 + j * 104729) % 20_000, value);
      })();
      written += 8 * value.length;
      largestWal = Math.max(largestWal, fs.statSync(`${file}-wal`).size);
      await new Promise((r) => setTimeout(r, 1));
    }
    // Without the restart the WAL holds every page ever committed (PASSIVE never catches up).
    expect(largestWal).toBeLessThan(8 * 2 ** 20);
    expect(sqlite.prepare('select count(*) as n from t').get()).toMatchObject({
      n: expect.any(Number) as number,
    });
  } finally {
    await checkpointer.stop();
  }
}, 30_000);
