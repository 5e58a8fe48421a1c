import type { Logger } from 'pino';
import {
  createRedisConnection,
  trackServerIdentity,
  whenReady,
  type RedisConnectionOptions,
} from './connection.js';
import { RedisEventLog, type RedisRetention } from './redisEventLog.js';

export { RedisEventLog } from './redisEventLog.js';
export type { RedisEventLogOptions, RedisRetention } from './redisEventLog.js';
export { createRedisConnection, redisToAppError, safeRedisUrl } from './connection.js';
export { threadKeys, clusterKeys, fenceField, terminalField } from './keys.js';

/** Options for {@link openRedisEventLog}. */
export interface OpenRedisEventLogOptions extends Omit<RedisConnectionOptions, 'name'> {
  /** Key prefix of this deployment. */
  prefix: string;
  retention?: RedisRetention | undefined;
  /** See {@link RedisEventLog} `fenceOf`. */
  fenceOf?: (runId: string) => string | undefined;
  logger?: Logger | undefined;
}

/**
 * Opens the event log on Redis: a command connection and a dedicated subscriber connection,
 * both ready (UNAVAILABLE, naming Redis, when it cannot be reached within the connect
 * timeout). Closing the log closes both.
 *
 * @example
 * const events = await openRedisEventLog({ url: 'redis://127.0.0.1:6379', prefix: 'tw:' });
 */
export async function openRedisEventLog(opts: OpenRedisEventLogOptions): Promise<RedisEventLog> {
  const redis = createRedisConnection({ ...opts, name: 'events' });
  const subscriber = createRedisConnection({ ...opts, name: 'events-subscriber' });
  const identity = trackServerIdentity(redis, opts.url, opts.logger);
  const shut = async () => {
    subscriber.disconnect();
    await redis.quit().catch(() => redis.disconnect());
  };
  try {
    const timeout = (opts.connectTimeoutMs ?? 2_000) * 2;
    await Promise.all([
      whenReady(redis, opts.url, timeout),
      whenReady(subscriber, opts.url, timeout),
    ]);
  } catch (err) {
    await shut();
    throw err;
  }
  return new RedisEventLog({
    redis,
    subscriber,
    identity,
    prefix: opts.prefix,
    retention: opts.retention,
    ...(opts.fenceOf ? { fenceOf: opts.fenceOf } : {}),
    logger: opts.logger,
    onClose: shut,
  });
}
