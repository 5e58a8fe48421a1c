import type { Redis } from 'ioredis';
import {
  ACQUIRE_LUA,
  BUCKET_TAKE_LUA,
  RELEASE_LUA,
  RENEW_LUA,
  SLOT_ACQUIRE_LUA,
  SLOT_REFRESH_LUA,
  SWEEP_LUA,
  TAKEOVER_LUA,
} from './scripts.js';

type Arg = string | number;

/** The coordination scripts as typed commands of a connection (see scripts.ts). */
export interface CoordinationCommands {
  twLeaseAcquire(meta: string, ...args: Arg[]): Promise<[string, (string | number)?]>;
  twLeaseRenew(meta: string, ...args: Arg[]): Promise<[string, number?]>;
  twLeaseRelease(meta: string, ...args: Arg[]): Promise<number>;
  twLeaseSweep(index: string, ...args: Arg[]): Promise<string[]>;
  twLeaseTakeover(meta: string, ...args: Arg[]): Promise<[string, (string | number)?, number?]>;
  twSlotAcquire(key: string, ...args: Arg[]): Promise<number>;
  twSlotRefresh(key: string, ...args: Arg[]): Promise<number>;
  twBucketTake(key: string, ...args: Arg[]): Promise<[number, number?]>;
}

/** Defines the coordination scripts on `redis` (once) and returns it typed with them. */
export function withCoordinationScripts(redis: Redis): Redis & CoordinationCommands {
  if (!('twLeaseAcquire' in redis)) {
    const define = (name: keyof CoordinationCommands, lua: string) =>
      redis.defineCommand(name, { numberOfKeys: 1, lua });
    define('twLeaseAcquire', ACQUIRE_LUA);
    define('twLeaseRenew', RENEW_LUA);
    define('twLeaseRelease', RELEASE_LUA);
    define('twLeaseSweep', SWEEP_LUA);
    define('twLeaseTakeover', TAKEOVER_LUA);
    define('twSlotAcquire', SLOT_ACQUIRE_LUA);
    define('twSlotRefresh', SLOT_REFRESH_LUA);
    define('twBucketTake', BUCKET_TAKE_LUA);
  }
  return redis as Redis & CoordinationCommands;
}
