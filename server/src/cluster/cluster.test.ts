import { createRunId, createThreadId, type ThreadId } from '@tracewire/shared';
import pino from 'pino';
import { describe, expect, test } from 'vitest';
import { deltaDrafts } from '../events/eventLog.contract.js';
import type { AgentEventDraft } from '../events/eventLog.js';
import {
  REDIS_TEST_URL,
  openTestRedisEventLog,
  testPrefix,
} from '../events/redis/__tests__/testRedis.js';
import { createClusterSlots, createClusterTokenBuckets } from './clusterLimits.js';
import { openClusterCoordinator, type ClusterCoordinatorOptions } from './coordinator.js';
import type { OrphanedRun } from './sweeper.js';

const logger = pino({ level: 'silent' });

async function instance(prefix: string, opts: Partial<ClusterCoordinatorOptions> = {}) {
  const c = await openClusterCoordinator({ url: REDIS_TEST_URL, prefix, logger, ...opts });
  return Object.assign(c, { [Symbol.asyncDispose]: () => c.close() });
}

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const instanceLost = (threadId: string, runId: string): AgentEventDraft =>
  ({
    type: 'agent_error',
    threadId,
    runId,
    ts: Date.now(),
    code: 'INSTANCE_LOST',
    message: 'the instance running this run stopped; send the message again',
    retryable: true,
  }) as unknown as AgentEventDraft;

describe('run leases', () => {
  test('a run leased to one instance cannot be leased by another, and only its token appends', async () => {
    await using p = testPrefix();
    await using a = await instance(p.prefix);
    await using b = await instance(p.prefix);
    await using logA = await openTestRedisEventLog({
      prefix: p.prefix,
      fenceOf: (r) => a.leases.tokenOf(r),
    });
    await using logB = await openTestRedisEventLog({
      prefix: p.prefix,
      fenceOf: (r) => b.leases.tokenOf(r),
    });
    const threadId: ThreadId = createThreadId();
    const run = { runId: createRunId(), threadId };
    const lease = await a.leases.acquire(run);
    expect(Number(lease.token)).toBeGreaterThan(0);
    await expect(b.leases.acquire(run)).rejects.toMatchObject({ code: 'CONFLICT' });
    const drafts = () => deltaDrafts({ threadId, runId: run.runId, n: 1 });
    expect((await logA.events.append(threadId, drafts()))[0]!.seq).toBe(1);
    await expect(logB.events.append(threadId, drafts())).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    // Tokens only grow: a later lease gets a larger one.
    const other = await b.leases.acquire({ runId: createRunId(), threadId: run.threadId });
    expect(Number(other.token)).toBeGreaterThan(Number(lease.token));
  });

  test('renewal keeps a lease past its length; without renewal it lapses and the holder is fenced off', async () => {
    await using p = testPrefix();
    await using a = await instance(p.prefix, { leaseMs: 400, renewMs: 100 });
    await using log = await openTestRedisEventLog({
      prefix: p.prefix,
      fenceOf: (r) => a.leases.tokenOf(r) ?? lapsed.get(r),
    });
    const lapsed = new Map<string, string>();
    const threadId = createThreadId();
    const run = { runId: createRunId(), threadId };
    await a.leases.acquire(run);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(
      (await log.events.append(threadId, deltaDrafts({ threadId, runId: run.runId, n: 1 })))[0]!
        .seq,
    ).toBe(1);

    // A paused owner: it stops renewing (as under SIGSTOP) but still believes in its token.
    const lost: string[] = [];
    await using paused = await instance(p.prefix, {
      leaseMs: 300,
      renewMs: 60_000,
      onLeaseLost: (l) => lost.push(l.runId),
    });
    const stale = { runId: createRunId(), threadId };
    const lease = await paused.leases.acquire(stale);
    lapsed.set(stale.runId, lease.token);
    await new Promise((r) => setTimeout(r, 500));
    await expect(
      log.events.append(threadId, deltaDrafts({ threadId, runId: stale.runId, n: 1 })),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/lapsed/) });
    // Its next renewal finds the lease lapsed: never revived, reported lost.
    await paused.leases.renewAll();
    expect(lost).toEqual([stale.runId]);
    expect(paused.leases.tokenOf(stale.runId)).toBeUndefined();
  });

  test('survivors take over a dead owner’s runs once the lease lapses, end them once with INSTANCE_LOST, and fence the owner off', async () => {
    await using p = testPrefix();
    const threadId = createThreadId();
    const runs = [createRunId(), createRunId(), createRunId()];
    // The owner leases three runs and appends, then dies without releasing anything.
    const owner = await instance(p.prefix, { leaseMs: 600, renewMs: 60_000 });
    const ownerTokens = new Map<string, string>();
    for (const runId of runs)
      ownerTokens.set(runId, (await owner.leases.acquire({ runId, threadId })).token);
    await using ownerLog = await openTestRedisEventLog({
      prefix: p.prefix,
      fenceOf: (r) => ownerTokens.get(r),
    });
    for (const runId of runs)
      await ownerLog.events.append(threadId, deltaDrafts({ threadId, runId, n: 2 }));
    owner.leases.close();
    await owner.close();

    // Two survivors sweep; each orphan is taken by exactly one of them and ended with its token.
    const ended: { by: string; run: OrphanedRun }[] = [];
    const survivors: Awaited<ReturnType<typeof instance>>[] = [];
    const logs: Awaited<ReturnType<typeof openTestRedisEventLog>>[] = [];
    for (const name of ['s1', 's2']) {
      // Assigned right after: the callback runs only once sweeps begin.
      // eslint-disable-next-line prefer-const
      let log: Awaited<ReturnType<typeof openTestRedisEventLog>> | undefined;
      const s = await instance(p.prefix, {
        instanceId: name,
        leaseMs: 600,
        renewMs: 200,
        sweepMs: 100,
        onOrphaned: async (run) => {
          ended.push({ by: name, run });
          await log!.events.append(run.lease.threadId as ThreadId, [
            instanceLost(run.lease.threadId, run.lease.runId),
          ]);
          await s.leases.release(run.lease.runId);
        },
      });
      log = await openTestRedisEventLog({ prefix: p.prefix, fenceOf: (r) => s.leases.tokenOf(r) });
      survivors.push(s);
      logs.push(log);
    }
    try {
      const started = Date.now();
      await until(() => ended.length === 3, 10_000);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(ended.map((e) => e.run.lease.runId).sort()).toEqual([...runs].sort());
      expect(new Set(ended.map((e) => e.run.previousOwner))).toEqual(new Set([owner.instanceId]));
      for (const runId of runs) {
        const terminal = await logs[0]!.events.terminalOf(threadId, runId);
        expect(terminal?.event).toMatchObject({
          type: 'agent_error',
          code: 'INSTANCE_LOST',
          retryable: true,
        });
      }
      // The old owner (paused, not dead) cannot append to those runs any more.
      await expect(
        ownerLog.events.append(threadId, deltaDrafts({ threadId, runId: runs[0]!, n: 1 })),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      // Nothing is taken over twice.
      await new Promise((r) => setTimeout(r, 800));
      expect(ended).toHaveLength(3);
      const events = await logs[1]!.events.read(threadId, 0, 100);
      expect(events.filter((e) => e.type === 'agent_error')).toHaveLength(3);
    } finally {
      for (const l of logs) await l[Symbol.asyncDispose]();
      for (const s of survivors) await s.close();
    }
  });

  test('the default lease, renewal and sweep end a dead owner’s runs within 20 s', () => {
    // Found at the first sweep after the lease lapses: lease + sweep interval.
    const [leaseMs, renewMs, sweepMs] = [15_000, 5_000, 2_000];
    expect(leaseMs + sweepMs).toBeLessThanOrEqual(20_000);
    expect(renewMs * 3).toBeLessThanOrEqual(leaseMs);
  });
});

describe('cluster messages and registry', () => {
  test('a cancel requested on one instance reaches the owner within a second', async () => {
    await using p = testPrefix();
    const heard: { runId: string; at: number }[] = [];
    await using owner = await instance(p.prefix, {
      onCancel: (runId) => heard.push({ runId, at: Date.now() }),
    });
    await using other = await instance(p.prefix);
    const runId = createRunId();
    const sentAt = Date.now();
    await other.requestCancel(runId);
    await until(() => heard.length === 1, 1_000);
    expect(heard[0]!.runId).toBe(runId);
    expect(heard[0]!.at - sentAt).toBeLessThan(1_000);
    expect(owner.instanceId).not.toBe(other.instanceId);
  });

  test('lists live instances and forgets one that left', async () => {
    await using p = testPrefix();
    await using a = await instance(p.prefix);
    const b = await instance(p.prefix);
    expect((await a.liveInstances()).sort()).toEqual([a.instanceId, b.instanceId].sort());
    await b.close();
    expect(await a.liveInstances()).toEqual([a.instanceId]);
  });
});

describe('cluster-wide limits', () => {
  test('per-user slots taken from three instances at once admit exactly the limit, and free on release', async () => {
    await using p = testPrefix();
    await using i1 = await instance(p.prefix);
    await using i2 = await instance(p.prefix);
    await using i3 = await instance(p.prefix);
    const slots = [i1, i2, i3].map((i) =>
      createClusterSlots({
        redis: i.redis,
        prefix: p.prefix,
        namespace: 'conn',
        instanceId: i.instanceId,
      }),
    );
    try {
      const taken = await Promise.all(
        Array.from({ length: 30 }, (_, k) => slots[k % 3]!.acquire('alice', 7)),
      );
      const granted = taken.filter((r) => r !== null);
      expect(granted).toHaveLength(7);
      expect(await slots[0]!.count('alice')).toBe(7);
      await granted[0]!();
      await granted[0]!();
      expect(await slots[1]!.count('alice')).toBe(6);
      expect(await slots[2]!.acquire('alice', 7)).not.toBeNull();
      expect(await slots[2]!.acquire('alice', 7)).toBeNull();
      expect(await slots[2]!.acquire('bob', 7)).not.toBeNull();
    } finally {
      for (const s of slots) s.close();
    }
  });

  test('a dead instance’s slots free themselves once they are not refreshed', async () => {
    await using p = testPrefix();
    await using live = await instance(p.prefix);
    const opts = {
      redis: live.redis,
      prefix: p.prefix,
      namespace: 'conn',
      ttlMs: 400,
      refreshMs: 100,
    };
    const refreshed = createClusterSlots({ ...opts, instanceId: 'alive' });
    const dead = createClusterSlots({ ...opts, instanceId: 'dead' });
    try {
      expect(await refreshed.acquire('u', 2)).not.toBeNull();
      expect(await dead.acquire('u', 2)).not.toBeNull();
      dead.close(); // stops refreshing, as a killed instance would
      expect(await refreshed.acquire('u', 2)).toBeNull();
      await new Promise((r) => setTimeout(r, 700));
      // The live slot was refreshed and holds; the dead one lapsed.
      expect(await refreshed.acquire('u', 2)).not.toBeNull();
      expect(await refreshed.acquire('u', 2)).toBeNull();
    } finally {
      refreshed.close();
    }
  });

  test('a per-user mutation rate hit from three instances at once admits exactly the burst', async () => {
    await using p = testPrefix();
    await using i1 = await instance(p.prefix);
    await using i2 = await instance(p.prefix);
    await using i3 = await instance(p.prefix);
    const buckets = [i1, i2, i3].map((i) =>
      createClusterTokenBuckets({
        redis: i.redis,
        prefix: p.prefix,
        namespace: 'mut',
        perSecond: 2,
        burst: 10,
      }),
    );
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, k) => buckets[k % 3]!.take('carol')),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    const refused = results.find((r) => !r.ok);
    expect(refused).toMatchObject({ ok: false });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(500);
    await new Promise((r) => setTimeout(r, 600));
    expect((await buckets[1]!.take('carol')).ok).toBe(true);
    expect((await buckets[1]!.take('dave')).ok).toBe(true);
  });
});
