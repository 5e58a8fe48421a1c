import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createRedisConnection, redisToAppError, whenReady } from '../events/redis/connection.js';
import { clusterKeys } from '../events/redis/keys.js';
import { createRunLeases, type Lease, type RunLeases } from './leases.js';
import { withCoordinationScripts, type CoordinationCommands } from './redisScripts.js';
import { createLeaseSweeper, type LeaseSweeper, type OrphanedRun } from './sweeper.js';

/** A name for this process that no other instance has: host, pid and a random part. */
export function createInstanceId(): string {
  const host =
    hostname()
      .replace(/[^\w.-]/g, '')
      .slice(0, 40) || 'host';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Redis's clock in ms: the one clock every instance's leases and heartbeats are read against. */
async function redisNow(redis: Redis): Promise<number> {
  const [seconds = 0, micros = 0] = (await redis.time()).map(Number);
  return seconds * 1000 + Math.floor(micros / 1000);
}

/** Options for {@link openClusterCoordinator}. */
export interface ClusterCoordinatorOptions {
  url: string;
  prefix: string;
  /** @default createInstanceId() */
  instanceId?: string;
  /** Run lease. @default 15000 */
  leaseMs?: number;
  /** Lease renewal and instance heartbeat period. @default 5000 */
  renewMs?: number;
  /** Lapsed-lease sweep period. @default 2000 */
  sweepMs?: number;
  /** A run this instance owns should be cancelled (the request came from any instance). */
  onCancel?: (runId: string) => void;
  /** A held lease was lost: the run must stop appending. */
  onLeaseLost?: (lease: Lease) => void;
  /** A dead owner's run was taken over: end it. Without it, no sweep runs. */
  onOrphaned?: (run: OrphanedRun) => void | Promise<void>;
  logger?: Logger | undefined;
}

/** What instances of a cluster share besides the event log: leases, cancels, liveness. */
export interface ClusterCoordinator {
  readonly instanceId: string;
  /** The coordination connection (with its scripts): cluster-wide limits run on it. */
  readonly redis: Redis & CoordinationCommands;
  readonly leases: RunLeases;
  /** Asks every instance to cancel `runId`; the owner acts on it (within a second). */
  requestCancel(runId: string): Promise<void>;
  /** Instances whose heartbeat is current, this one included. */
  liveInstances(): Promise<string[]>;
  /** Runs one lapsed-lease sweep now (tests; the timer runs them). */
  sweep(): Promise<OrphanedRun[]>;
  /** Throws UNAVAILABLE when Redis does not answer. */
  ping(): Promise<void>;
  /** Stops renewing and sweeping, leaves the instance registry, closes the connections. */
  close(): Promise<void>;
}

/**
 * Connects this instance to the cluster's coordination in Redis: a heartbeat in the instance
 * registry, run leases renewed in the background, the sweep that takes over a dead owner's
 * runs, and the cancel channel (a dedicated subscriber connection).
 */
export async function openClusterCoordinator(
  opts: ClusterCoordinatorOptions,
): Promise<ClusterCoordinator> {
  const instanceId = opts.instanceId ?? createInstanceId();
  const renewMs = opts.renewMs ?? 5_000;
  const keys = clusterKeys(opts.prefix);
  const conn = { url: opts.url, logger: opts.logger };
  const redis: Redis & CoordinationCommands = withCoordinationScripts(
    createRedisConnection({ ...conn, name: 'cluster' }),
  );
  const subscriber = createRedisConnection({ ...conn, name: 'cluster-subscriber' });
  const shut = async () => {
    subscriber.disconnect();
    await redis.quit().catch(() => redis.disconnect());
  };
  try {
    await Promise.all([whenReady(redis, opts.url, 4_000), whenReady(subscriber, opts.url, 4_000)]);
  } catch (err) {
    await shut();
    throw err;
  }

  const subscribeCancel = () => {
    subscriber
      .subscribe(keys.cancel)
      .catch((err: unknown) => opts.logger?.warn({ err }, 'cancel channel subscribe failed'));
  };
  subscriber.on('message', (channel: string, runId: string) => {
    if (channel === keys.cancel) opts.onCancel?.(runId);
  });
  subscriber.on('ready', subscribeCancel);
  subscribeCancel();

  const heartbeat = async () => {
    const now = await redisNow(redis);
    await redis.zadd(keys.instances, now + renewMs * 3, instanceId);
    await redis.zremrangebyscore(keys.instances, '-inf', now);
  };
  await heartbeat().catch((err: unknown) => {
    throw redisToAppError(err);
  });
  const beat = setInterval(() => {
    heartbeat().catch((err: unknown) => opts.logger?.warn({ err }, 'instance heartbeat failed'));
  }, renewMs);
  beat.unref();

  const leases = createRunLeases({
    redis,
    prefix: opts.prefix,
    instanceId,
    ...(opts.leaseMs !== undefined ? { leaseMs: opts.leaseMs } : {}),
    renewMs,
    ...(opts.onLeaseLost ? { onLost: opts.onLeaseLost } : {}),
    logger: opts.logger,
  });
  let sweeper: LeaseSweeper | null = null;
  if (opts.onOrphaned) {
    sweeper = createLeaseSweeper({
      redis,
      prefix: opts.prefix,
      instanceId,
      leases,
      ...(opts.leaseMs !== undefined ? { leaseMs: opts.leaseMs } : {}),
      ...(opts.sweepMs !== undefined ? { sweepMs: opts.sweepMs } : {}),
      onOrphaned: opts.onOrphaned,
      logger: opts.logger,
    });
  }

  let closing: Promise<void> | undefined;
  return {
    instanceId,
    redis,
    leases,
    async requestCancel(runId) {
      try {
        await redis.publish(keys.cancel, runId);
      } catch (err) {
        throw redisToAppError(err);
      }
    },
    async liveInstances() {
      try {
        return await redis.zrangebyscore(keys.instances, await redisNow(redis), '+inf');
      } catch (err) {
        throw redisToAppError(err);
      }
    },
    sweep: () => sweeper?.sweep() ?? Promise.resolve([]),
    async ping() {
      try {
        await redis.ping();
      } catch (err) {
        throw redisToAppError(err);
      }
    },
    close() {
      closing ??= (async () => {
        clearInterval(beat);
        leases.close();
        sweeper?.close();
        await redis.zrem(keys.instances, instanceId).catch(() => undefined);
        await shut();
      })();
      return closing;
    },
  };
}
