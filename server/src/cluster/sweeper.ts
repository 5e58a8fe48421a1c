import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { clusterKeys, threadKeys } from '../events/redis/keys.js';
import { leaseMember, type Lease, type RunLeases } from './leases.js';
import type { CoordinationCommands } from './redisScripts.js';

/** A run whose owner's lease lapsed, now leased to this instance so that it ends the run. */
export interface OrphanedRun {
  /** The instance that held the run (empty when unknown). */
  previousOwner: string;
  /** This instance's lease on the run: its appends (the `INSTANCE_LOST` end) carry the token. */
  lease: Lease;
}

/** Options for {@link createLeaseSweeper}. */
export interface LeaseSweeperOptions {
  redis: Redis & CoordinationCommands;
  prefix: string;
  instanceId: string;
  leases: RunLeases;
  /** @default 15000 */
  leaseMs?: number;
  /** How often to look for lapsed leases. @default 2000 */
  sweepMs?: number;
  /** Called for each run taken over; it should end the run (phase 2: `INSTANCE_LOST`). */
  onOrphaned: (run: OrphanedRun) => void | Promise<void>;
  logger?: Logger | undefined;
}

/** Finds runs whose owner stopped renewing their lease and takes them over. */
export interface LeaseSweeper {
  /** One sweep now (the timer runs one every `sweepMs`); resolves with the runs taken over. */
  sweep(): Promise<OrphanedRun[]>;
  close(): void;
}

/** Entries examined per sweep. */
const SWEEP_LIMIT = 100;

/**
 * Every `sweepMs`, claims the due entries of the lease index (one instance per entry: the
 * claim pushes it ahead for the others), then takes each run over in its thread's meta hash,
 * which is where the lease really is: a run whose owner renewed meanwhile is left alone (its
 * index entry corrected), a run that ended is dropped from the index, and a lapsed one gets a
 * new token for this instance, fencing the old owner off for good. A dead owner's runs are
 * found within lease + sweep interval (about 17 s with the defaults).
 */
export function createLeaseSweeper(opts: LeaseSweeperOptions): LeaseSweeper {
  const { redis, prefix, instanceId, leases } = opts;
  const leaseMs = opts.leaseMs ?? 15_000;
  const keys = clusterKeys(prefix);
  let running: Promise<OrphanedRun[]> | null = null;

  async function sweepOnce(): Promise<OrphanedRun[]> {
    const due = await redis.twLeaseSweep(keys.leases, leaseMs, SWEEP_LIMIT);
    const taken: OrphanedRun[] = [];
    for (const member of due) {
      const [runId, threadId] = member.split(' ');
      if (!runId || !threadId) {
        await redis.zrem(keys.leases, member);
        continue;
      }
      const token = String(await redis.incr(keys.fence));
      const [status, a, b] = await redis.twLeaseTakeover(
        threadKeys(prefix, threadId).meta,
        runId,
        token,
        leaseMs,
        instanceId,
      );
      if (status === 'ENDED') {
        await redis.zrem(keys.leases, member);
      } else if (status === 'ALIVE') {
        await redis.zadd(keys.leases, Number(a), member);
      } else {
        const lease: Lease = { runId, threadId, token, expiresAt: Number(b) };
        leases.adopt(lease);
        await redis.zadd(keys.leases, lease.expiresAt, leaseMember(lease));
        const orphan = { previousOwner: String(a ?? ''), lease };
        taken.push(orphan);
        opts.logger?.warn(
          { run_id: runId, thread_id: threadId, previous_owner: orphan.previousOwner },
          'took over a run whose lease lapsed',
        );
        try {
          await opts.onOrphaned(orphan);
        } catch (err) {
          opts.logger?.error({ err, run_id: runId }, 'could not end an orphaned run');
        }
      }
    }
    return taken;
  }

  const sweep = () => (running ??= sweepOnce().finally(() => (running = null)));
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => opts.logger?.warn({ err }, 'lease sweep failed'));
  }, opts.sweepMs ?? 2_000);
  timer.unref();
  return { sweep, close: () => clearInterval(timer) };
}
