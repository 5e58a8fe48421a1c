import { AppError } from '@tracewire/shared';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/** Options shared by every Tracewire connection to Redis. */
export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  url: string;
  /** A command without an answer this long fails (a frozen server or network). @default 5000 */
  commandTimeoutMs?: number;
  /** How long one connection attempt may take. @default 2000 */
  connectTimeoutMs?: number;
  logger?: Logger | undefined;
  /** Name in logs (`events`, `events-sub`, `cluster`…). */
  name?: string;
}

/** The URL without its password, for messages and logs. */
export function safeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(invalid url)';
  }
}

/**
 * An ioredis connection that fails fast instead of queueing: no offline queue (a call while
 * Redis is unreachable fails at once with UNAVAILABLE), no resending of commands whose answer
 * was lost (an append must never be applied twice), reconnects forever with a capped backoff,
 * and its errors logged, never thrown at the process.
 */
export function createRedisConnection(
  opts: RedisConnectionOptions,
  overrides: RedisOptions = {},
): Redis {
  const redis = new Redis(opts.url, {
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs ?? 5_000,
    connectTimeout: opts.connectTimeoutMs ?? 2_000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
    lazyConnect: true,
    ...overrides,
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) opts.logger?.warn({ err, redis: opts.name }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) opts.logger?.info({ redis: opts.name }, 'redis connection back');
    down = false;
  });
  return redis;
}

/** Waits until the connection is ready (connecting it if needed); UNAVAILABLE after `timeoutMs`. */
export async function whenReady(redis: Redis, url: string, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'wait') redis.connect().catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    let lastError: unknown;
    const onError = (err: unknown) => (lastError = err);
    const done = (err?: Error) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onReady = () => done();
    const timer = setTimeout(
      () =>
        done(
          new AppError(
            'UNAVAILABLE',
            `Redis unavailable at ${safeRedisUrl(url)}: ${lastError instanceof Error ? lastError.message : 'no answer'}`,
            { cause: lastError },
          ),
        ),
      timeoutMs,
    );
    redis.on('ready', onReady);
    redis.on('error', onError);
  });
}

/** Replies that mean "Redis cannot serve this now" (restarting, failing over, read-only replica). */
const TRANSIENT_REPLY = /^(LOADING|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|BUSY|NOREPLICAS)\b/;

/** Failures of the connection itself. */
const CONNECTION_TROUBLE =
  /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|Command timed out|Connection lost|connect ETIMEDOUT|MaxRetriesPerRequest|max retries/i;

/**
 * Maps ioredis failures to the platform's error model: an unreachable, restarting or
 * overloaded Redis is `UNAVAILABLE` (retryable) with a message that names Redis; a script or
 * reply error is `INTERNAL`.
 */
export function redisToAppError(err: unknown): AppError {
  if (AppError.is(err)) return err;
  if (
    err instanceof Error &&
    (TRANSIENT_REPLY.test(err.message) || CONNECTION_TROUBLE.test(err.message))
  )
    return new AppError('UNAVAILABLE', `Redis unavailable: ${err.message}`, { cause: err });
  return AppError.from(err);
}

/**
 * The run id of the Redis process behind a connection, learned on every (re)connect. It
 * changes when Redis restarts or fails over; scripts compare it with the one that wrote a
 * stream (see the event log's epochs). Unknown while the connection is down or just back.
 */
export interface ServerIdentity {
  /** The current run id; waits (at most `timeoutMs`) while it is being learned. */
  runId(timeoutMs: number): Promise<string>;
}

/** Tracks the run id of `redis`'s server across reconnects. */
export function trackServerIdentity(redis: Redis, url: string, logger?: Logger): ServerIdentity {
  let current: string | null = null;
  let waiters: ((id: string | null) => void)[] = [];
  const settle = (id: string | null) => {
    const w = waiters;
    waiters = [];
    for (const fn of w) fn(id);
  };
  let generation = 0;
  const learn = () => {
    const mine = ++generation;
    redis.info('server').then(
      (info) => {
        if (mine !== generation) return;
        const id = /run_id:(\w+)/.exec(info)?.[1] ?? null;
        current = id;
        settle(id);
      },
      (err: unknown) => logger?.warn({ err }, 'could not read the Redis run id'),
    );
  };
  redis.on('ready', learn);
  // Forgotten as soon as the connection drops: nothing is sent with a run id of the old server.
  redis.on('close', () => {
    generation++;
    current = null;
  });
  if (redis.status === 'ready') learn();
  return {
    runId(timeoutMs) {
      if (current !== null) return Promise.resolve(current);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== onId);
          reject(
            new AppError('UNAVAILABLE', `Redis unavailable at ${safeRedisUrl(url)}: not connected`),
          );
        }, timeoutMs);
        const onId = (id: string | null) => {
          clearTimeout(timer);
          if (id === null) reject(new AppError('UNAVAILABLE', 'Redis did not report its run id'));
          else resolve(id);
        };
        waiters.push(onId);
      });
    },
  };
}
