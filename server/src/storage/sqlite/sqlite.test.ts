import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import pino from 'pino';
import {
  createClientMessageId,
  createRunId,
  createThreadId,
  plainJsonText,
  type AgentEvent,
  type ThreadId,
  type UserId,
} from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import {
  deltaDrafts,
  describeEventLogContract,
  everyKindOfDraft,
} from '../../events/eventLog.contract.js';
import { describeChatStoreContract } from '../chatStore.contract.js';
import { openSqliteStorage } from './index.js';
import { openTestStorage, tempDir } from './__tests__/testStorage.js';
import { openDatabase } from './database.js';
import { MIGRATIONS, migrateToLatest } from './migrations.js';
import type { DatabaseSchema } from './schema.js';

const logger = pino({ level: 'silent' });

describeChatStoreContract('sqlite', () => openTestStorage());
describeEventLogContract('sqlite', () => openTestStorage());

const userId = 'user-1' as UserId;
const seqs = (events: readonly AgentEvent[]) => events.map((e) => e.seq);

describe('SQLite storage', () => {
  test('creates the parent directory and turns WAL mode on', async () => {
    await using storage = await openTestStorage();
    expect(fs.existsSync(storage.file)).toBe(true);
    const probe = new Database(storage.file, { readonly: true });
    try {
      expect(probe.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      probe.close();
    }
  });

  test('keeps threads, messages, runs and events across close and reopen', async () => {
    using tmp = tempDir();
    const file = path.join(tmp.dir, 'data.db');
    const first = await openSqliteStorage({ file, logger });
    const thread = await first.store.createThread({ agent: 'demo', userId, title: 'persist' });
    const sent = await first.store.createMessageAndRun({
      threadId: thread.id,
      userId,
      content: 'hi',
      clientMessageId: createClientMessageId(),
      agent: 'demo',
    });
    const run = await first.store.updateRun(sent.run.id, { status: 'running' });
    const written = await first.events.append(thread.id, everyKindOfDraft(thread.id));
    const head = await first.events.head(thread.id);
    await first.close();

    const second = await openSqliteStorage({ file, logger });
    try {
      expect(await second.store.getThread(thread.id)).toEqual({
        ...thread,
        updatedAt: sent.message.createdAt,
      });
      expect((await second.store.listMessages(thread.id, { limit: 10 })).items).toEqual([
        sent.message,
      ]);
      expect(await second.store.getRun(run.id)).toEqual(run);
      expect(await second.store.listUnfinishedRuns()).toEqual([run]);
      expect(await second.events.read(thread.id, 0, 100)).toStrictEqual(written);
      expect(await second.events.head(thread.id)).toEqual(head);
      const more = await second.events.append(
        thread.id,
        deltaDrafts({ threadId: thread.id, n: 2 }),
      );
      expect(seqs(more)).toEqual([head.headSeq + 1, head.headSeq + 2]);
      expect(more[0]!.epoch).toBe(head.epoch);
    } finally {
      await second.close();
    }
  });

  test('checkpoints the WAL from its worker thread, not on commit', async () => {
    using tmp = tempDir();
    const file = path.join(tmp.dir, 'data.db');
    const database = openDatabase({ file, logger });
    try {
      expect(database.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      database.sqlite.exec('create table filler (v text)');
      const before = fs.statSync(file).size;
      const insert = database.sqlite.prepare('insert into filler values (?)');
      database.sqlite.transaction(() => {
        for (let i = 0; i < 500; i++) insert.run('x'.repeat(1000));
      })();
      // Only the worker can have copied these pages from the WAL into the database file. It
      // copies them in steps, so wait for all of them, not the first.
      const deadline = Date.now() + 5_000;
      while (fs.statSync(file).size <= before + 400_000 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(fs.statSync(file).size).toBeGreaterThan(before + 400_000);
    } finally {
      await database.close();
    }
    // After close the WAL is gone and every row is in the file.
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    const reopened = new Database(file, { readonly: true });
    expect(reopened.prepare('select count(*) as n from filler').get()).toEqual({ n: 500 });
    reopened.close();
  });

  test('runs migrations once and skips them on every later open', async () => {
    using tmp = tempDir();
    const file = path.join(tmp.dir, 'data.db');
    await (await openSqliteStorage({ file, logger })).close();
    const reopened = await openSqliteStorage({ file, logger });
    await reopened.close();
    const db = new Kysely<DatabaseSchema>({
      dialect: new SqliteDialect({ database: new Database(file) }),
    });
    try {
      const again = await migrateToLatest(db);
      expect(again.results).toEqual([]);
      const applied = await db
        .selectFrom('kysely_migration' as never)
        .select('name' as never)
        .execute();
      expect(applied).toEqual(Object.keys(MIGRATIONS).map((name) => ({ name })));
    } finally {
      await db.destroy();
    }
  });

  test('closes idempotently and then fails store and log calls with UNAVAILABLE', async () => {
    await using storage = await openTestStorage();
    await storage.close();
    await storage.close();
    await expect(storage.store.ping()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(storage.events.head(createThreadId())).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  });

  test('commits a batch once it is maxBatchDelayMs old, within the turn, when appends keep arriving', async () => {
    await using storage = await openTestStorage({ maxBatchDelayMs: 40 });
    const threadId = createThreadId();
    const seen: number[] = [];
    storage.events.subscribe(threadId, (e) => seen.push(e.seq));
    const busyUntil = (t: number) => {
      while (performance.now() < t) {
        /* a long synchronous turn: many timers due at once */
      }
    };
    const started = performance.now();
    const first = storage.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
    busyUntil(started + 1);
    void storage.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
    // Younger than the bound: nothing committed yet.
    expect(seen).toEqual([]);
    busyUntil(started + 41);
    const last = storage.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
    // The append that found the batch past the bound committed it, itself included, at once.
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(seqs(await first)).toEqual([1, 2]);
    expect(seqs(await last)).toEqual([4]);
    expect(seqs(await storage.events.read(threadId, 0, 10))).toEqual([1, 2, 3, 4]);
  });

  test('stores each event whole: a plain event, live or read back, carries exactly its JSON; an annotated one none', async () => {
    await using storage = await openTestStorage();
    const threadId = createThreadId();
    const live = await storage.events.append(threadId, everyKindOfDraft(threadId));
    const read = await storage.events.read(threadId, 0, 100);
    for (const events of [live, read]) {
      for (const e of events) {
        const annotated = e.type === 'agent_completed' || (e.type === 'tool_completed' && e.ok);
        expect(plainJsonText(e)).toBe(annotated ? undefined : JSON.stringify(e));
        expect(Object.isFrozen(e)).toBe(true);
      }
    }
  });

  test('refuses a draft whose column fields are malformed, taking no position', async () => {
    await using storage = await openTestStorage();
    const threadId = createThreadId();
    const [good] = deltaDrafts({ threadId, n: 1 });
    for (const bad of [{ ts: 1.5 }, { ts: '1' }, { runId: 7 }, { type: null }])
      await expect(
        storage.events.append(threadId, [{ ...good!, ...bad } as never]),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(seqs(await storage.events.append(threadId, [good!]))).toEqual([1]);
  });

  test('keeps at most maxEventsPerThread events and advances firstSeq, epoch unchanged', async () => {
    await using storage = await openTestStorage({ retention: { maxEventsPerThread: 10 } });
    const threadId = createThreadId();
    const before = await storage.events.head(threadId);
    for (let i = 0; i < 5; i++) {
      await storage.events.append(threadId, deltaDrafts({ threadId, n: 5 }));
    }
    const head = await storage.events.head(threadId);
    expect(head).toEqual({ epoch: before.epoch, headSeq: 25, firstSeq: 16 });
    expect(seqs(await storage.events.read(threadId, 0, 100))).toEqual([
      16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    ]);
  });

  test('drops events older than maxAgeMs after an append', async () => {
    await using storage = await openTestStorage({ retention: { maxAgeMs: 60_000 } });
    const threadId = createThreadId();
    const runId = createRunId();
    const old = deltaDrafts({ threadId, runId, n: 3 }).map((d) => ({
      ...d,
      ts: Date.now() - 120_000,
    }));
    await storage.events.append(threadId, old);
    const fresh = await storage.events.append(threadId, deltaDrafts({ threadId, runId, n: 2 }));
    expect(await storage.events.read(threadId, 0, 10)).toEqual(fresh);
    expect((await storage.events.head(threadId)).firstSeq).toBe(4);
  });

  test('prunes expired events of idle threads on demand', async () => {
    await using storage = await openTestStorage({ retention: { maxAgeMs: 1_000 } });
    const idle = createThreadId();
    const busy = createThreadId();
    await storage.events.append(idle, deltaDrafts({ threadId: idle, n: 4 }));
    await storage.events.append(busy, deltaDrafts({ threadId: busy, n: 2 }));
    expect(storage.events.prune(Date.now())).toBe(0);
    expect(storage.events.prune(Date.now() + 5_000)).toBe(2);
    expect(await storage.events.head(idle)).toMatchObject({ headSeq: 4, firstSeq: 5 });
    expect(await storage.events.read(idle, 0, 10)).toEqual([]);
    const next = await storage.events.append(idle, deltaDrafts({ threadId: idle, n: 1 }));
    expect(seqs(next)).toEqual([5]);
  });

  test('prunes more streams than one page holds, on demand and from its timer (a page per macrotask)', async () => {
    await using storage = await openTestStorage({ retention: { maxAgeMs: 1_000 } });
    const two = (threadId: ThreadId) => deltaDrafts({ threadId, n: 2 });
    const first = Array.from({ length: 450 }, () => createThreadId());
    for (const t of first) await storage.events.append(t, two(t));
    expect(storage.events.prune(Date.now() + 5_000)).toBe(450);
    for (const t of [first[0]!, first[449]!])
      expect(await storage.events.head(t)).toMatchObject({ headSeq: 2, firstSeq: 3 });

    // The timer (every second for this maxAge) reaches every stream too, once they are old.
    const second = Array.from({ length: 450 }, () => createThreadId());
    for (const t of second) await storage.events.append(t, two(t));
    const trimmed = async () => {
      let n = 0;
      for (const t of second) if ((await storage.events.head(t)).firstSeq === 3) n++;
      return n;
    };
    const deadline = Date.now() + 6_000;
    while ((await trimmed()) < second.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(await trimmed()).toBe(second.length);
  });

  test('keeps the stream position across reopen after retention deleted every event', async () => {
    using tmp = tempDir();
    const file = path.join(tmp.dir, 'data.db');
    const threadId = createThreadId();
    const first = await openSqliteStorage({ file, logger, retention: { maxAgeMs: 1_000 } });
    await first.events.append(threadId, deltaDrafts({ threadId, n: 3 }));
    expect(first.events.prune(Date.now() + 5_000)).toBe(1);
    const head = await first.events.head(threadId);
    expect(head).toMatchObject({ headSeq: 3, firstSeq: 4 });
    await first.close();

    const second = await openSqliteStorage({ file, logger, retention: { maxAgeMs: 1_000 } });
    try {
      // The events are gone; the position is not: seq never restarts within an epoch.
      expect(await second.events.head(threadId)).toEqual(head);
      const next = await second.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
      expect(next.map((e) => [e.epoch, e.seq])).toEqual([[head.epoch, 4]]);
    } finally {
      await second.close();
    }
  });

  test('a second writer on the same file cannot fork a stream: its append fails', async () => {
    using tmp = tempDir();
    const file = path.join(tmp.dir, 'data.db');
    const threadId = createThreadId();
    const a = await openSqliteStorage({ file, logger });
    const b = await openSqliteStorage({ file, logger });
    try {
      await a.events.head(threadId);
      await b.events.head(threadId);
      await a.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
      // `b` still believes the stream is empty: its seq 1 is taken, so the batch is refused.
      const refused = await b.events.append(threadId, deltaDrafts({ threadId, n: 1 })).then(
        () => null,
        (err: unknown) => err,
      );
      expect(refused).toMatchObject({ code: 'INTERNAL' });
      expect(seqs(await a.events.read(threadId, 0, 10))).toEqual([1, 2]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('starts a new epoch with seq from 1 when a stream is reset', async () => {
    await using storage = await openTestStorage();
    const threadId: ThreadId = createThreadId();
    const heard: AgentEvent[] = [];
    storage.events.subscribe(threadId, (e) => heard.push(e));
    await storage.events.append(threadId, deltaDrafts({ threadId, n: 3 }));
    const oldEpoch = (await storage.events.head(threadId)).epoch;
    const reset = await storage.events.resetStream(threadId);
    expect(reset.epoch).not.toBe(oldEpoch);
    expect(reset).toMatchObject({ headSeq: 0, firstSeq: 1 });
    expect(await storage.events.read(threadId, 0, 10)).toEqual([]);
    const after = await storage.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
    expect(after.map((e) => [e.epoch, e.seq])).toEqual([
      [reset.epoch, 1],
      [reset.epoch, 2],
    ]);
    expect(heard.map((e) => e.epoch)).toEqual([
      oldEpoch,
      oldEpoch,
      oldEpoch,
      reset.epoch,
      reset.epoch,
    ]);
  });

  test('answers idempotent sends from two connections to the same file once', async () => {
    await using a = await openTestStorage();
    const b = await openSqliteStorage({ file: a.file, logger });
    try {
      const thread = await a.store.createThread({ agent: 'demo', userId, title: 't' });
      const input = {
        threadId: thread.id,
        userId,
        content: 'once',
        clientMessageId: createClientMessageId(),
        agent: 'demo',
      };
      const [x, y] = await Promise.all([
        a.store.createMessageAndRun(input),
        b.store.createMessageAndRun(input),
      ]);
      expect([x.created, y.created].sort()).toEqual([false, true]);
      expect(y.run).toEqual(x.run);
    } finally {
      await b.close();
    }
  });
});
