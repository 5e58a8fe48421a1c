import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import pino from 'pino';
import { openRedisEventLog, type OpenRedisEventLogOptions } from '../index.js';
import type { RedisEventLog } from '../redisEventLog.js';

/** The machine's Redis (no persistence). `TRACEWIRE_TEST_REDIS_URL` points tests elsewhere. */
export const REDIS_TEST_URL = process.env['TRACEWIRE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test run uses. */
export const uniquePrefix = (): string =>
  `twtest:${process.pid}:${randomBytes(4).toString('hex')}:`;

/** Deletes every key under `prefix` (SCAN + UNLINK). */
export async function deleteKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** A Redis prefix for one test; disposing deletes its keys. */
export function testPrefix(url = REDIS_TEST_URL): { prefix: string } & AsyncDisposable {
  const prefix = uniquePrefix();
  return { prefix, [Symbol.asyncDispose]: () => deleteKeys(url, prefix).then(() => undefined) };
}

/** An event log on a fresh prefix; disposing closes it and deletes its keys. */
export async function openTestRedisEventLog(
  opts: Partial<OpenRedisEventLogOptions> = {},
): Promise<{ events: RedisEventLog; prefix: string; url: string } & AsyncDisposable> {
  const url = opts.url ?? REDIS_TEST_URL;
  const prefix = opts.prefix ?? uniquePrefix();
  const events = await openRedisEventLog({
    url,
    logger: pino({ level: 'silent' }),
    ...opts,
    prefix,
  });
  return {
    events,
    prefix,
    url,
    [Symbol.asyncDispose]: async () => {
      await events.close();
      if (!opts.prefix) await deleteKeys(url, prefix);
    },
  };
}

/** A free loopback TCP port (bound once by the OS, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A private `redis-server` on a free port, without persistence, that a test can kill. */
export interface PrivateRedis extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  /** Kills the server (SIGKILL by default) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  start(): Promise<void>;
  /** Sends a signal without waiting (SIGSTOP / SIGCONT). */
  signal(signal: NodeJS.Signals): void;
}

async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      probe.disconnect();
    }
  }
}

/** Starts a private Redis (`redis-server --port N --save "" --appendonly no`). */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    await waitForPing(url, 10_000);
  };
  const stop = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGCONT');
    proc.kill(signal);
    await exited;
    child = null;
  };
  await start();
  return {
    url,
    port,
    stop,
    start,
    signal: (s) => {
      child?.kill(s);
    },
    [Symbol.asyncDispose]: () => stop(),
  };
}
