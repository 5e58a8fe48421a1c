import { AppError } from '@tracewire/shared';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { clusterKeys, threadKeys } from '../events/redis/keys.js';
import { redisToAppError } from '../events/redis/connection.js';
import type { CoordinationCommands } from './redisScripts.js';

/** A lease on one run: while it holds, only its token may append to the run. */
export interface Lease {
  runId: string;
  threadId: string;
  /** Fencing token: larger than every token issued before it. */
  token: string;
  /** Redis time (ms) at which it lapses unless renewed. */
  expiresAt: number;
}

/** Options for {@link createRunLeases}. */
export interface RunLeasesOptions {
  redis: Redis & CoordinationCommands;
  prefix: string;
  instanceId: string;
  /** @default 15000 */
  leaseMs?: number;
  /** @default 5000 */
  renewMs?: number;
  /** A held lease was lost (lapsed while Redis was unreachable, or taken over): stop the run. */
  onLost?: (lease: Lease) => void;
  logger?: Logger | undefined;
}

/** The leases this instance holds, renewed in the background. */
export interface RunLeases {
  /** Leases a new run to this instance; CONFLICT when another instance holds it or it ended. */
  acquire(run: { runId: string; threadId: string }): Promise<Lease>;
  /** Holds a lease obtained by a takeover (renewed like the others). */
  adopt(lease: Lease): void;
  /** The token of a run this instance holds (what its appends carry). */
  tokenOf(runId: string): string | undefined;
  /** Gives a lease up (the run ended). */
  release(runId: string): Promise<void>;
  /** Leases held right now. */
  held(): Lease[];
  /** Renews every held lease now (the timer does it every `renewMs`). */
  renewAll(): Promise<void>;
  /** Stops renewing (leases lapse by themselves). */
  close(): void;
}

/** Index member of a lease: what a survivor needs to find the run's thread. */
export const leaseMember = (l: { runId: string; threadId: string }) => `${l.runId} ${l.threadId}`;

/**
 * Run leases on Redis with fencing tokens (Kleppmann's scheme): a token from one counter for
 * the whole cluster, the lease in the run's thread meta hash (checked by every append) and an
 * index sorted by expiry for the survivors' sweep.
 */
export function createRunLeases(opts: RunLeasesOptions): RunLeases {
  const { redis, prefix, instanceId } = opts;
  const leaseMs = opts.leaseMs ?? 15_000;
  const keys = clusterKeys(prefix);
  const held = new Map<string, Lease>();
  let renewing: Promise<void> | null = null;

  const index = async (lease: Lease) => {
    await redis.zadd(keys.leases, lease.expiresAt, leaseMember(lease));
  };

  const lost = (lease: Lease, why: string) => {
    if (held.get(lease.runId) !== lease) return;
    held.delete(lease.runId);
    opts.logger?.warn({ run_id: lease.runId, why }, 'run lease lost');
    opts.onLost?.(lease);
  };

  const renewAll = async () => {
    const leases = [...held.values()];
    if (leases.length === 0) return;
    const pipeline = redis.pipeline() as unknown as {
      twLeaseRenew(meta: string, ...args: (string | number)[]): unknown;
      exec(): Promise<[Error | null, unknown][] | null>;
    };
    for (const l of leases)
      pipeline.twLeaseRenew(threadKeys(prefix, l.threadId).meta, l.runId, l.token, leaseMs);
    let replies: [Error | null, unknown][];
    try {
      replies = (await pipeline.exec()) ?? [];
    } catch (err) {
      // Redis unreachable: try again next time; a lease that lapses meanwhile is lost then.
      opts.logger?.warn({ err }, 'could not renew run leases');
      return;
    }
    const reindex: Promise<unknown>[] = [];
    leases.forEach((lease, i) => {
      const [err, reply] = replies[i] ?? [null, null];
      if (err) return;
      const [status, expiresAt] = reply as [string, number?];
      if (status !== 'OK') return lost(lease, 'lapsed or taken over');
      lease.expiresAt = Number(expiresAt);
      reindex.push(index(lease).catch(() => undefined));
    });
    await Promise.all(reindex);
  };

  const timer = setInterval(() => {
    renewing ??= renewAll().finally(() => (renewing = null));
  }, opts.renewMs ?? 5_000);
  timer.unref();

  return {
    async acquire(run) {
      try {
        const token = String(await redis.incr(keys.fence));
        const [status, detail] = await redis.twLeaseAcquire(
          threadKeys(prefix, run.threadId).meta,
          run.runId,
          token,
          leaseMs,
          instanceId,
        );
        if (status === 'ENDED') throw new AppError('CONFLICT', `run ${run.runId} has ended`);
        if (status !== 'OK')
          throw new AppError('CONFLICT', `run ${run.runId} is owned by instance ${String(detail)}`);
        const lease: Lease = { ...run, token, expiresAt: Number(detail) };
        held.set(run.runId, lease);
        await index(lease);
        return lease;
      } catch (err) {
        throw redisToAppError(err);
      }
    },
    adopt(lease) {
      held.set(lease.runId, lease);
    },
    tokenOf: (runId) => held.get(runId)?.token,
    async release(runId) {
      const lease = held.get(runId);
      if (!lease) return;
      held.delete(runId);
      try {
        await redis.twLeaseRelease(threadKeys(prefix, lease.threadId).meta, runId, lease.token);
        await redis.zrem(keys.leases, leaseMember(lease));
      } catch (err) {
        // The lease lapses by itself; the sweep then finds the run ended and drops its entry.
        opts.logger?.warn({ err, run_id: runId }, 'could not release a run lease');
      }
    },
    held: () => [...held.values()],
    renewAll: () => (renewing ??= renewAll().finally(() => (renewing = null))),
    close: () => clearInterval(timer),
  };
}
