import Database from 'better-sqlite3';
import { expect, test } from 'vitest';
import { createGroupCommit } from './groupCommit.js';
import { openWalDatabase } from './__tests__/walDatabase.js';

const tempDb = () =>
  openWalDatabase('id integer primary key, v text not null unique', ['wal_autocheckpoint = 0']);

/** Frames in the WAL: each commit appends the pages it changed. */
const walFrames = (sqlite: Database.Database) =>
  (sqlite.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]!.log;

test('writes queued in one turn commit together, each in its own savepoint', async () => {
  using db = tempDb();
  const group = createGroupCommit(db.sqlite);
  const insert = db.sqlite.prepare('insert into t (v) values (?)');
  const reader = new Database(db.file, { readonly: true });
  const count = () => (reader.prepare('select count(*) as n from t').get() as { n: number }).n;

  const writes = Array.from({ length: 100 }, (_, i) =>
    group.run(() => insert.run(`v${i}`).lastInsertRowid),
  );
  // A duplicate fails alone: its savepoint is rolled back, the others commit.
  const dup = group.run(() => {
    insert.run('extra');
    insert.run('v3');
  });
  expect(count()).toBe(0); // nothing is written before the turn's check phase
  expect(await Promise.all(writes)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  await expect(dup).rejects.toThrow(/UNIQUE/);
  expect(count()).toBe(100);
  expect(reader.prepare("select count(*) as n from t where v = 'extra'").get()).toEqual({ n: 0 });
  reader.close();

  // One commit for the hundred: a handful of WAL frames, not one or more per write.
  const grouped = walFrames(db.sqlite);
  for (let i = 0; i < 100; i++) db.sqlite.transaction(() => insert.run(`w${i}`)).immediate();
  const separate = walFrames(db.sqlite) - grouped;
  expect(grouped).toBeLessThan(10);
  expect(separate).toBeGreaterThanOrEqual(100);
});

test('flush commits at once; a failed commit rejects every queued write', async () => {
  using db = tempDb();
  const group = createGroupCommit(db.sqlite);
  const insert = db.sqlite.prepare('insert into t (v) values (?)');
  const first = group.run(() => insert.run('a').changes);
  group.flush();
  expect(db.sqlite.prepare('select v from t').all()).toEqual([{ v: 'a' }]);
  expect(await first).toBe(1);

  const lost = [group.run(() => insert.run('b')), group.run(() => insert.run('c'))];
  db.sqlite.close();
  group.flush();
  for (const p of lost) await expect(p).rejects.toThrow(/not open/);
});
