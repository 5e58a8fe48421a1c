import {
  createRunId,
  createThreadId,
  type AgentEvent,
  type AgentEventOf,
  type ThreadId,
} from '@tracewire/shared';
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { deltaDrafts, describeEventLogContract } from '../eventLog.contract.js';
import type { AgentEventDraft } from '../eventLog.js';
import {
  REDIS_TEST_URL,
  openTestRedisEventLog,
  startPrivateRedis,
  testPrefix,
} from './__tests__/testRedis.js';
import { fenceField, threadKeys } from './keys.js';

describeEventLogContract('redis', () => openTestRedisEventLog());

const seqs = (events: readonly AgentEvent[]) => events.map((e) => e.seq);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Resolves once `cond()` holds (polled), or fails after `ms`. */
async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function terminal(
  threadId: ThreadId,
  runId = createRunId(),
): AgentEventOf<'agent_error'> extends infer E ? Omit<E, 'seq' | 'epoch'> : never {
  return {
    type: 'agent_error',
    threadId,
    runId,
    ts: Date.now(),
    code: 'CANCELLED',
    message: 'cancelled',
    retryable: false,
  };
}

async function admin<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url);
  r.on('error', () => undefined);
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

describe('Redis event log across instances', () => {
  test('two instances appending to one thread get contiguous seqs, and each one’s listeners hear every event in order', async () => {
    await using prefix = testPrefix();
    await using a = await openTestRedisEventLog({ prefix: prefix.prefix });
    await using b = await openTestRedisEventLog({ prefix: prefix.prefix });
    const threadId = createThreadId();
    const heardA: number[] = [];
    const heardB: number[] = [];
    a.events.subscribe(threadId, (e) => heardA.push(e.seq));
    b.events.subscribe(threadId, (e) => heardB.push(e.seq));
    await Promise.all([a.events.head(threadId), b.events.head(threadId)]);
    const writes: Promise<AgentEvent[]>[] = [];
    for (let i = 0; i < 40; i++) {
      const log = i % 2 === 0 ? a.events : b.events;
      writes.push(log.append(threadId, deltaDrafts({ threadId, n: 3, prefix: `w${i}-` })));
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const stored = (await Promise.all(writes)).flat();
    expect(seqs(stored).sort((x, y) => x - y)).toEqual(range(1, 120));
    await until(() => heardA.length >= 120 && heardB.length >= 120).catch(() => undefined);
    expect(heardA).toEqual(range(1, 120));
    expect(heardB).toEqual(range(1, 120));
    expect(seqs(await b.events.read(threadId, 0, 500))).toEqual(range(1, 120));
  });

  test('a subscriber that resumes on another instance misses nothing written meanwhile', async () => {
    await using prefix = testPrefix();
    await using writer = await openTestRedisEventLog({ prefix: prefix.prefix });
    await using reader = await openTestRedisEventLog({ prefix: prefix.prefix });
    const threadId = createThreadId();
    await writer.events.append(threadId, deltaDrafts({ threadId, n: 10 }));
    const producing = (async () => {
      for (let i = 0; i < 20; i++) {
        await writer.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    // Delivery's order: subscribe, then head, then backfill up to the head.
    const live: number[] = [];
    reader.events.subscribe(threadId, (e) => live.push(e.seq));
    const head = await reader.events.head(threadId);
    const backfill = seqs(await reader.events.read(threadId, 0, head.headSeq));
    await producing;
    await until(() => live.includes(50));
    const merged = [...new Set([...backfill, ...live])].sort((x, y) => x - y);
    expect(merged).toEqual(range(1, 50));
    // Live events after the head arrive in order, without a gap.
    expect(live.filter((s) => s > head.headSeq)).toEqual(range(head.headSeq + 1, 50));
  });
});

describe('Redis event log: runs, fences and terminal events', () => {
  test('refuses a second terminal event and any event after it, and finds the terminal by run id', async () => {
    await using ctx = await openTestRedisEventLog();
    const threadId = createThreadId();
    const runId = createRunId();
    await ctx.events.append(threadId, deltaDrafts({ threadId, runId, n: 2 }));
    const [end] = await ctx.events.append(threadId, [terminal(threadId, runId)]);
    expect(end!.seq).toBe(3);
    await expect(ctx.events.append(threadId, [terminal(threadId, runId)])).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(
      ctx.events.append(threadId, deltaDrafts({ threadId, runId, n: 1 })),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    // Two terminal events of one run in one call: the call is refused whole.
    const other = createRunId();
    await expect(
      ctx.events.append(threadId, [terminal(threadId, other), terminal(threadId, other)]),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    // Other runs of the thread are unaffected, and no position was taken by the refusals.
    const [next] = await ctx.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
    expect(next!.seq).toBe(4);
    expect(await ctx.events.terminalOf(threadId, runId)).toEqual({ seq: 3, event: end });
    expect(await ctx.events.terminalOf(threadId, createRunId())).toBeNull();
  });

  test('a held append is shown by this instance only once released: listeners, head and read wait, then all see it', async () => {
    await using ctx = await openTestRedisEventLog();
    const threadId = createThreadId();
    const heard: number[] = [];
    ctx.events.subscribe(threadId, (e) => heard.push(e.seq));
    await ctx.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
    const held = await ctx.events.appendHeld(threadId, [terminal(threadId)]);
    expect(held.events.map((e) => e.seq)).toEqual([3]);
    // Appended after it by someone else: waits behind it, in order.
    const after = ctx.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
    await new Promise((r) => setTimeout(r, 50));
    expect(heard).toEqual([1, 2]);
    expect((await ctx.events.head(threadId)).headSeq).toBe(2);
    expect(seqs(await ctx.events.read(threadId, 0, 10))).toEqual([1, 2]);
    // A subscriber arriving meanwhile gets it live too, once released.
    const late: number[] = [];
    ctx.events.subscribe(threadId, (e) => late.push(e.seq));
    held.release();
    held.release();
    await after;
    expect(heard).toEqual([1, 2, 3, 4]);
    expect(late).toEqual([3, 4]);
    expect((await ctx.events.head(threadId)).headSeq).toBe(4);
    expect(seqs(await ctx.events.read(threadId, 0, 10))).toEqual([1, 2, 3, 4]);
  });

  test('a held append sent right behind another append of its thread is reported (the earlier report waits for the live tail, which the hold stops until the release)', async () => {
    await using ctx = await openTestRedisEventLog();
    const threadId = createThreadId();
    const heard: number[] = [];
    ctx.events.subscribe(threadId, (e) => heard.push(e.seq));
    await ctx.events.head(threadId);
    // Two pipelines in flight: the earlier one's reply is offered while the held one's hold
    // is already taken, so its report waits for the live tail until the release.
    const earlier = ctx.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
    const reported = ctx.events.appendHeld(threadId, [terminal(threadId)]);
    const held = await Promise.race([
      reported,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the held append was never reported')), 5_000),
      ),
    ]);
    expect(held.events.map((e) => e.seq)).toEqual([3]);
    held.release();
    expect(seqs(await earlier)).toEqual([1, 2]);
    await until(() => heard.length >= 3);
    expect(heard).toEqual([1, 2, 3]);
  });

  test('a refused call in a batch takes no position and the other calls of the batch commit', async () => {
    await using ctx = await openTestRedisEventLog();
    const threadId = createThreadId();
    const ended = createRunId();
    await ctx.events.append(threadId, [terminal(threadId, ended)]);
    const results: (string | number[])[] = [];
    const report = (err: unknown, stored: readonly AgentEvent[]) =>
      results.push(err ? (err as { code: string }).code : seqs(stored));
    ctx.events.enqueue(threadId, deltaDrafts({ threadId, n: 2 }), report);
    ctx.events.enqueue(threadId, deltaDrafts({ threadId, runId: ended, n: 1 }), report);
    ctx.events.enqueue(threadId, deltaDrafts({ threadId, n: 1 }), report);
    await ctx.events.append(threadId, []);
    expect(results).toEqual([[2, 3], 'CONFLICT', [4]]);
  });

  test('appends only with the run’s current fencing token, and not once its lease lapsed', async () => {
    const tokens = new Map<string, string>();
    await using ctx = await openTestRedisEventLog({ fenceOf: (runId) => tokens.get(runId) });
    const threadId = createThreadId();
    const runId = createRunId();
    const { meta } = threadKeys(ctx.prefix, threadId);
    const setFence = (token: number, expiresAt: number) =>
      admin(ctx.url, (r) => r.hset(meta, fenceField(runId), `${token}|${expiresAt}|inst-x`));
    await setFence(7, Date.now() + 60_000);
    // No token: the run is fenced by someone else.
    await expect(
      ctx.events.append(threadId, deltaDrafts({ threadId, runId, n: 1 })),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/fenced/) });
    tokens.set(runId, '7');
    expect(seqs(await ctx.events.append(threadId, deltaDrafts({ threadId, runId, n: 2 })))).toEqual(
      [1, 2],
    );
    // A takeover issues a larger token: the old holder is refused.
    await setFence(8, Date.now() + 60_000);
    await expect(
      ctx.events.append(threadId, deltaDrafts({ threadId, runId, n: 1 })),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/fenced/) });
    // The lease lapsed (by Redis's clock): even the holder of the current token is refused.
    tokens.set(runId, '8');
    await setFence(8, Date.now() - 1_000);
    await expect(
      ctx.events.append(threadId, deltaDrafts({ threadId, runId, n: 1 })),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/lapsed/) });
    // A token for a run the thread never fenced is refused too.
    const stray = createRunId();
    tokens.set(stray, '3');
    await expect(
      ctx.events.append(threadId, deltaDrafts({ threadId, runId: stray, n: 1 })),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await ctx.events.head(threadId)).headSeq).toBe(2);
  });
});

describe('Redis event log: retention and epochs', () => {
  test('keeps exactly maxEventsPerThread events, though Redis trims whole nodes (MAXLEN ~)', async () => {
    await using ctx = await openTestRedisEventLog({ retention: { maxEventsPerThread: 100 } });
    const threadId = createThreadId();
    for (let i = 0; i < 10; i++)
      await ctx.events.append(threadId, deltaDrafts({ threadId, n: 100 }));
    expect(await ctx.events.head(threadId)).toMatchObject({ headSeq: 1000, firstSeq: 901 });
    expect(seqs(await ctx.events.read(threadId, 0, 2000))).toEqual(range(901, 1000));
    expect(seqs(await ctx.events.read(threadId, 0, 10))).toEqual(range(901, 910));
    expect(seqs(await ctx.events.read(threadId, 950, 10))).toEqual(range(951, 960));
    // Memory stays bounded: Redis keeps at most a node (100 entries) beyond the limit.
    const length = await admin(ctx.url, (r) => r.xlen(threadKeys(ctx.prefix, threadId).stream));
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThanOrEqual(300);
  });

  test('drops events older than maxAgeMs at the next append', async () => {
    await using ctx = await openTestRedisEventLog({ retention: { maxAgeMs: 60_000 } });
    const threadId = createThreadId();
    const runId = createRunId();
    const old: AgentEventDraft[] = deltaDrafts({ threadId, runId, n: 3 }).map((d) => ({
      ...d,
      ts: Date.now() - 120_000,
    }));
    await ctx.events.append(threadId, old);
    const fresh = await ctx.events.append(threadId, deltaDrafts({ threadId, runId, n: 2 }));
    expect(await ctx.events.read(threadId, 0, 10)).toEqual(fresh);
    expect(await ctx.events.head(threadId)).toMatchObject({ headSeq: 5, firstSeq: 4 });
    const { meta } = threadKeys(ctx.prefix, threadId);
    const ttl = await admin(ctx.url, (r) => r.pttl(meta));
    expect(ttl).toBeGreaterThan(50_000);
  });

  test('starts a new epoch when the stream’s Redis run id changed (a failover that may have lost writes)', async () => {
    await using ctx = await openTestRedisEventLog();
    const threadId = createThreadId();
    const heard: AgentEvent[] = [];
    ctx.events.subscribe(threadId, (e) => heard.push(e));
    await ctx.events.append(threadId, deltaDrafts({ threadId, n: 3 }));
    const before = await ctx.events.head(threadId);
    await admin(ctx.url, (r) =>
      r.hset(threadKeys(ctx.prefix, threadId).meta, 'r', 'another-server'),
    );
    const after = await ctx.events.head(threadId);
    expect(after.epoch).not.toBe(before.epoch);
    expect(after).toMatchObject({ headSeq: 0, firstSeq: 1 });
    expect(await ctx.events.read(threadId, 0, 10)).toEqual([]);
    const next = await ctx.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
    expect(next.map((e) => [e.epoch, e.seq])).toEqual([[after.epoch, 1]]);
    expect(heard.map((e) => [e.epoch, e.seq])).toEqual([
      [before.epoch, 1],
      [before.epoch, 2],
      [before.epoch, 3],
      [after.epoch, 1],
    ]);
  });
});

describe('Redis event log: failures', () => {
  test('after a Redis restart (data lost) listeners get the new epoch’s events and streaming resumes', async () => {
    await using redis = await startPrivateRedis();
    await using writer = await openTestRedisEventLog({ url: redis.url });
    await using reader = await openTestRedisEventLog({ url: redis.url, prefix: writer.prefix });
    const threadId = createThreadId();
    const heard: AgentEvent[] = [];
    reader.events.subscribe(threadId, (e) => heard.push(e));
    await reader.events.head(threadId);
    await writer.events.append(threadId, deltaDrafts({ threadId, n: 3 }));
    await until(() => heard.length === 3);
    const oldEpoch = heard[0]!.epoch;

    await redis.stop('SIGKILL');
    // While Redis is down every call fails with UNAVAILABLE, naming Redis; nothing crashes.
    const calls = await Promise.allSettled([
      writer.events.append(threadId, deltaDrafts({ threadId, n: 1 })),
      writer.events.read(threadId, 0, 10),
      writer.events.head(threadId),
    ]);
    for (const call of calls)
      expect(call).toMatchObject({
        status: 'rejected',
        reason: { code: 'UNAVAILABLE', message: expect.stringMatching(/Redis/) },
      });
    await redis.start();

    // Back: the stream is gone, so a new epoch; the subscriber is re-subscribed and hears it.
    let after: AgentEvent[] = [];
    await until(() => {
      void writer.events
        .append(threadId, deltaDrafts({ threadId, n: 1 }))
        .then((e) => (after = after.length === 0 ? e : after))
        .catch(() => undefined);
      return after.length > 0;
    }, 10_000);
    expect(after[0]!.epoch).not.toBe(oldEpoch);
    await until(() => heard.some((e) => e.epoch !== oldEpoch), 10_000);
    const fresh = heard.filter((e) => e.epoch !== oldEpoch);
    expect(seqs(fresh)).toEqual(range(1, fresh.length));
    expect((await reader.events.head(threadId)).epoch).toBe(after[0]!.epoch);
  });

  test('after the subscriber connection drops, every watched thread is read again from the stream', async () => {
    await using redis = await startPrivateRedis();
    await using writer = await openTestRedisEventLog({ url: redis.url });
    await using reader = await openTestRedisEventLog({ url: redis.url, prefix: writer.prefix });
    const threads = [createThreadId(), createThreadId(), createThreadId()];
    const heard = new Map<string, number[]>(threads.map((t) => [t, []]));
    for (const t of threads) reader.events.subscribe(t, (e) => heard.get(t)!.push(e.seq));
    for (const t of threads) await reader.events.head(t);
    for (const t of threads) await writer.events.append(t, deltaDrafts({ threadId: t, n: 2 }));
    await until(() => threads.every((t) => heard.get(t)!.length === 2));
    // Cut only the subscriber connections, then write while they are gone.
    await admin(redis.url, (r) => r.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
    for (const t of threads) await writer.events.append(t, deltaDrafts({ threadId: t, n: 3 }));
    await until(() => threads.every((t) => heard.get(t)!.length === 5), 10_000);
    for (const t of threads) expect(heard.get(t)).toEqual(range(1, 5));
  });

  test('refuses to open with UNAVAILABLE naming Redis when it cannot be reached', async () => {
    await expect(
      openTestRedisEventLog({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 300 }),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/Redis/) });
  });

  test('uses the machine’s Redis by default', () => {
    expect(REDIS_TEST_URL).toMatch(/^redis:\/\//);
  });
});
