import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import pino from 'pino';
import { createThreadId, plainJsonText, transformer, type ThreadId } from '@tracewire/shared';
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

/** 001's `data`/`data_meta` of an event's non-column fields (its encoder, verbatim). */
function encode001(rest: Record<string, unknown>): [string, string | null] {
  const { json, meta } = transformer.serialize(rest);
  return [JSON.stringify(json), meta === undefined ? null : JSON.stringify(meta)];
}

const CREATED = new Date('2026-11-23T10:00:00.000Z');

/** The rows 001 held: thread a keeps 3..5 (1..2 pruned, one annotated), b was pruned to empty. */
function rows001(a: ThreadId, b: ThreadId) {
  const delta = (seq: number) => [a, seq, 'epocha', 'message_delta', 'run_1', 1000 + seq];
  return {
    streams: [
      [a, 'epocha', 2, 3],
      [b, 'epochb', 7, 8],
    ],
    events: [
      [...delta(3), ...encode001({ delta: 'd3' })],
      [...delta(4), ...encode001({ delta: 'd4', _meta: { traceparent: 'tp' } })],
      [
        a,
        5,
        'epocha',
        'agent_completed',
        'run_1',
        1005,
        ...encode001({ message: { id: 'msg_1', content: 'done', createdAt: CREATED } }),
      ],
    ],
  };
}

function seed001(file: string, rows: ReturnType<typeof rows001>): void {
  const sqlite = new Database(file);
  try {
    const stream = sqlite.prepare(
      'insert into streams (thread_id, epoch, head_seq, first_seq) values (?, ?, ?, ?)',
    );
    const event = sqlite.prepare(
      'insert into events (thread_id, seq, epoch, type, run_id, ts, data, data_meta) values (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const r of rows.streams) stream.run(...r);
    for (const r of rows.events) event.run(...r);
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
  const rows = rows001(a, b);
  seed001(file, rows);

  const storage = await openSqliteStorage({ file, logger });
  try {
    const events = await storage.events.read(a, 0, 10);
    expect(events.map((e) => [e.threadId, e.seq, e.epoch, e.type, e.runId, e.ts])).toEqual([
      [a, 3, 'epocha', 'message_delta', 'run_1', 1003],
      [a, 4, 'epocha', 'message_delta', 'run_1', 1004],
      [a, 5, 'epocha', 'agent_completed', 'run_1', 1005],
    ]);
    expect(events[0]).toMatchObject({ delta: 'd3' });
    expect(events[1]).toMatchObject({ delta: 'd4', _meta: { traceparent: 'tp' } });
    // Annotations survive the move: the Date comes back a Date.
    expect(events[2]).toMatchObject({ message: { content: 'done', createdAt: CREATED } });
    expect(events[2]!.type === 'agent_completed' && events[2]!.message.createdAt).toBeInstanceOf(
      Date,
    );
    // A plain event's stored text is exactly its JSON.
    expect(plainJsonText(events[0]!)).toBe(JSON.stringify(events[0]));
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

  // And back: 002's down restores the 001 layout and its exact rows.
  await using k = migrator(file);
  const { error } = await k.m.migrateTo('001_initial');
  expect(error).toBeUndefined();
  const sqlite = new Database(file, { readonly: true });
  try {
    const back = sqlite
      .prepare('select * from events order by thread_id, seq')
      .raw()
      .all() as unknown[][];
    const appended = [
      b,
      8,
      'epochb',
      'message_delta',
      'run_2',
      2000,
      ...encode001({ delta: 'after' }),
    ];
    expect(back).toEqual(
      [...rows.events, appended].sort(
        (x, y) => String(x[0]).localeCompare(String(y[0])) || Number(x[1]) - Number(y[1]),
      ),
    );
  } finally {
    sqlite.close();
  }
});

test('004 gives each existing thread the agent of its latest run, or demo, and goes back down', async () => {
  using tmp = tempDir();
  const file = path.join(tmp.dir, 'data.db');
  {
    await using k = migrator(file);
    const { error } = await k.m.migrateTo('002_append_order_events');
    expect(error).toBeUndefined();
  }
  const [withRuns, without] = [createThreadId(), createThreadId()];
  const sqlite = new Database(file);
  try {
    const thread = sqlite.prepare(
      'insert into threads (id, user_id, title, created_at, updated_at) values (?, ?, ?, 1, 1)',
    );
    thread.run(withRuns, 'u1', 'old thread');
    thread.run(without, 'u1', 'empty thread');
    const message = sqlite.prepare(
      "insert into messages (id, thread_id, user_id, role, content, run_id, created_at) values (?, ?, 'u1', 'user', 'hi', ?, 1)",
    );
    const run = sqlite.prepare(
      "insert into runs (id, thread_id, user_id, message_id, agent, status, created_at) values (?, ?, 'u1', ?, ?, 'completed', ?)",
    );
    message.run('msg_1', withRuns, 'run_1');
    message.run('msg_2', withRuns, 'run_2');
    run.run('run_1', withRuns, 'msg_1', 'firehose', 1);
    run.run('run_2', withRuns, 'msg_2', 'bench', 2);
  } finally {
    sqlite.close();
  }

  const storage = await openSqliteStorage({ file, logger });
  try {
    expect((await storage.store.getThread(withRuns))?.agent).toBe('bench');
    expect((await storage.store.getThread(without))?.agent).toBe('demo');
  } finally {
    await storage.close();
  }

  await using k = migrator(file);
  const { error } = await k.m.migrateTo('002_append_order_events');
  expect(error).toBeUndefined();
  const back = new Database(file, { readonly: true });
  try {
    const columns = back.prepare('pragma table_info(threads)').all() as Array<{ name: string }>;
    expect(columns.map((c) => c.name)).not.toContain('agent');
    expect(back.prepare('select count(*) as n from threads').get()).toEqual({ n: 2 });
  } finally {
    back.close();
  }
});
