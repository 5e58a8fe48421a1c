import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import pino from 'pino';
import { createThreadId, type ThreadId } from '@tracewire/shared';
import { expect, test } from 'vitest';
import { openSqliteStorage } from './index.js';
import { MIGRATIONS } from './migrations.js';
import { tempDir } from './__tests__/testStorage.js';

const logger = pino({ level: 'silent' });

/** A Kysely migrator over `file` that knows the shipped migrations. */
function migrator(file: string) {
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(file) }) });
  const m = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(MIGRATIONS) } });
  return { m, db, [Symbol.asyncDispose]: () => db.destroy() };
}

/** Writes two streams the way the 001 event log stored them (thread-clustered events). */
function seed001(file: string, a: ThreadId, b: ThreadId): void {
  const sqlite = new Database(file);
  try {
    const stream = sqlite.prepare(
      'insert into streams (thread_id, epoch, head_seq, first_seq) values (?, ?, ?, ?)',
    );
    const event = sqlite.prepare(
      'insert into events (thread_id, seq, epoch, type, run_id, ts, data, data_meta) values (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // a: events 3..5 kept (1..2 pruned); b: every event pruned, head 7.
    stream.run(a, 'epocha', 2, 3);
    stream.run(b, 'epochb', 7, 8);
    for (const seq of [3, 4, 5])
      event.run(
        a,
        seq,
        'epocha',
        'message_delta',
        'run_1',
        1000 + seq,
        `{"delta":"d${seq}"}`,
        null,
      );
  } finally {
    sqlite.close();
  }
}

test('002 moves the 001 event log to append order: events, heads and first positions survive, and appends continue', async () => {
  using tmp = tempDir();
  const file = path.join(tmp.dir, 'data.db');
  const a = createThreadId();
  const b = createThreadId();
  {
    await using k = migrator(file);
    const { error } = await k.m.migrateTo('001_initial');
    expect(error).toBeUndefined();
  }
  seed001(file, a, b);

  const storage = await openSqliteStorage({ file, logger });
  try {
    const events = await storage.events.read(a, 0, 10);
    expect(events.map((e) => [e.threadId, e.seq, e.epoch, e.type, e.ts])).toEqual([
      [a, 3, 'epocha', 'message_delta', 1003],
      [a, 4, 'epocha', 'message_delta', 1004],
      [a, 5, 'epocha', 'message_delta', 1005],
    ]);
    expect(events.map((e) => (e.type === 'message_delta' ? e.delta : null))).toEqual([
      'd3',
      'd4',
      'd5',
    ]);
    expect(await storage.events.head(a)).toEqual({ epoch: 'epocha', headSeq: 5, firstSeq: 3 });
    expect(await storage.events.head(b)).toEqual({ epoch: 'epochb', headSeq: 7, firstSeq: 8 });
    const [next] = await storage.events.append(b, [
      { type: 'message_delta', threadId: b, runId: 'run_2', ts: 2000, delta: 'after' } as never,
    ]);
    expect(next).toMatchObject({ seq: 8, epoch: 'epochb', delta: 'after' });
    expect((await storage.events.read(b, 7, 10)).map((e) => e.seq)).toEqual([8]);
  } finally {
    await storage.close();
  }

  // And back: 002's down restores the 001 layout with the same rows.
  await using k = migrator(file);
  const { error } = await k.m.migrateTo('001_initial');
  expect(error).toBeUndefined();
  const sqlite = new Database(file, { readonly: true });
  try {
    expect(
      sqlite.prepare('select thread_id, seq from events order by thread_id, seq').all(),
    ).toEqual(
      [
        { thread_id: a, seq: 3 },
        { thread_id: a, seq: 4 },
        { thread_id: a, seq: 5 },
        { thread_id: b, seq: 8 },
      ].sort((x, y) => x.thread_id.localeCompare(y.thread_id) || x.seq - y.seq),
    );
  } finally {
    sqlite.close();
  }
});
