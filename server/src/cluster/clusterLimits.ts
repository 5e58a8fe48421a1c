import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisToAppError } from '../events/redis/connection.js';
import type { TakeResult } from '../limits/tokenBucket.js';
import type { CoordinationCommands } from './redisScripts.js';

/**
 * Counted slots per key, shared by every instance (per-user connections): the cluster-wide
 * counterpart of the per-process `SlotCounter`, with the same shape but asynchronous.
 */
export interface ClusterSlotCounter {
  /** Takes a slot; resolves with its release (idempotent), or null when the key is at `max`. */
  acquire(key: string, max: number): Promise<(() => Promise<void>) | null>;
  /** Live slots of a key, on every instance. */
  count(key: string): Promise<number>;
  /** Stops refreshing this instance's slots (they lapse by themselves). */
  close(): void;
}

/** Options for {@link createClusterSlots}. */
export interface ClusterSlotsOptions {
  redis: Redis & CoordinationCommands;
  prefix: string;
  /** Kind of slot (`conn` for connections): keys of different kinds never mix. */
  namespace: string;
  instanceId: string;
  /** A slot not refreshed this long is free again (its instance died). @default 15000 */
  ttlMs?: number;
  /** @default 5000 */
  refreshMs?: number;
  logger?: Logger | undefined;
}

/**
 * Slots as a sorted set per key whose members (one per slot, named after the instance) are
 * scored by expiry: the owning instance refreshes its members, so a dead instance's slots
 * free themselves after `ttlMs`; taking a slot first drops the expired ones, and counting and
 * adding are one script, so concurrent instances never exceed `max` together.
 */
export function createClusterSlots(opts: ClusterSlotsOptions): ClusterSlotCounter {
  const { redis, instanceId } = opts;
  const ttlMs = opts.ttlMs ?? 15_000;
  const keyOf = (key: string) => `${opts.prefix}lim:${opts.namespace}:{${key}}`;
  const held = new Map<string, Set<string>>();

  const refresh = async () => {
    for (const [key, members] of held) {
      if (members.size === 0) continue;
      try {
        await redis.twSlotRefresh(keyOf(key), ttlMs, ...members);
      } catch (err) {
        opts.logger?.warn({ err }, 'could not refresh connection slots');
        return;
      }
    }
  };
  const timer = setInterval(() => void refresh(), opts.refreshMs ?? 5_000);
  timer.unref();

  return {
    async acquire(key, max) {
      const member = `${instanceId}:${randomBytes(6).toString('hex')}`;
      try {
        if ((await redis.twSlotAcquire(keyOf(key), member, max, ttlMs)) !== 1) return null;
      } catch (err) {
        throw redisToAppError(err);
      }
      const members = held.get(key) ?? new Set<string>();
      members.add(member);
      held.set(key, members);
      let released: Promise<void> | undefined;
      return () =>
        (released ??= (async () => {
          members.delete(member);
          if (members.size === 0 && held.get(key) === members) held.delete(key);
          await redis.zrem(keyOf(key), member).catch(() => undefined);
        })());
    },
    async count(key) {
      try {
        return await redis.zcount(keyOf(key), Date.now(), '+inf');
      } catch (err) {
        throw redisToAppError(err);
      }
    },
    close: () => clearInterval(timer),
  };
}

/**
 * Token buckets per key shared by every instance (the per-user mutation rate): the
 * cluster-wide counterpart of `KeyedTokenBuckets`, asynchronous.
 */
export interface ClusterTokenBuckets {
  take(key: string, cost?: number): Promise<TakeResult>;
}

/** Options for {@link createClusterTokenBuckets}. */
export interface ClusterTokenBucketsOptions {
  redis: Redis & CoordinationCommands;
  prefix: string;
  namespace: string;
  perSecond: number;
  burst: number;
}

/**
 * One bucket per key in a Redis hash, refilled by Redis's clock in the same script that takes
 * from it; a bucket expires once it would be full again, so idle keys cost nothing.
 */
export function createClusterTokenBuckets(opts: ClusterTokenBucketsOptions): ClusterTokenBuckets {
  const keyOf = (key: string) => `${opts.prefix}lim:${opts.namespace}:{${key}}`;
  return {
    async take(key, cost = 1) {
      try {
        const [ok, retryAfterMs] = await opts.redis.twBucketTake(
          keyOf(key),
          opts.perSecond,
          opts.burst,
          cost,
        );
        return ok === 1 ? { ok: true } : { ok: false, retryAfterMs: Number(retryAfterMs) };
      } catch (err) {
        throw redisToAppError(err);
      }
    },
  };
}
