import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  createTracewire,
  loadConfig,
  signToken,
  type CreateTracewireOptions,
  type TracewireServer,
} from '@tracewire/server';
import {
  createTestDatabase,
  type TestDatabase,
} from '../../server/src/storage/postgres/__tests__/testDatabase.js';
import {
  REDIS_TEST_URL,
  deleteKeys,
  uniquePrefix,
} from '../../server/src/events/redis/__tests__/testRedis.js';

/** The back ends a test server can run on: the embedded SQLite file, or PostgreSQL + Redis. */
export const TEST_BACKENDS = ['embedded', 'cluster'] as const;
/** One of {@link TEST_BACKENDS}. */
export type TestBackend = (typeof TEST_BACKENDS)[number];

/**
 * A real server on port 0 with fresh state (a SQLite file, or a PostgreSQL database and a
 * Redis key prefix), torn down by `await using`.
 */
export interface TestServer extends AsyncDisposable {
  backend: TestBackend;
  /** The cluster variables it runs with (a restart passes them on through `reuse`). */
  clusterEnv: Record<string, string> | null;
  server: TracewireServer;
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT/trpc */
  wsUrl: string;
  dataDir: string;
  /** Signs a token for a user with the server's secret. */
  tokenFor(userId: string, opts?: { expiresIn?: string | number }): Promise<string>;
  /** Stops the server (graceful) without removing the data dir. */
  stop(): Promise<void>;
  /** Removes its data (data dir, or database and Redis keys) once it is stopped. */
  removeData(): Promise<void>;
}

/** Options for {@link startTestServer}. */
export interface TestServerOptions {
  /** Extra env vars (TRACEWIRE_*), e.g. agent pace. */
  env?: Record<string, string>;
  /** Reuse a data dir (restart tests); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Keep the data dir on dispose. */
  keepData?: boolean;
  overrides?: Partial<Omit<CreateTracewireOptions, 'config' | 'logger'>>;
  /** Logger to use (default: silent, or TEST_LOG_LEVEL). */
  logger?: CreateTracewireOptions['logger'];
  /** Where state lives. @default 'embedded' */
  backend?: TestBackend;
  /** Restart on the state of a stopped server (its data dir, or its database and prefix). */
  reuse?: TestServer;
}

/** A fresh database and key prefix for a cluster-mode server; removed by `remove()`. */
async function clusterState(): Promise<{ env: Record<string, string>; remove(): Promise<void> }> {
  const database: TestDatabase = await createTestDatabase();
  const prefix = uniquePrefix();
  return {
    env: {
      TRACEWIRE_DATABASE_URL: database.url,
      TRACEWIRE_REDIS_URL: REDIS_TEST_URL,
      TRACEWIRE_REDIS_PREFIX: prefix,
    },
    async remove() {
      await database[Symbol.asyncDispose]();
      await deleteKeys(REDIS_TEST_URL, prefix);
    },
  };
}

const SECRET = 'test-secret-0123456789-0123456789-abcdef';

/** Starts a Tracewire server for a test. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const backend = opts.reuse?.backend ?? opts.backend ?? 'embedded';
  const dataDir =
    opts.reuse?.dataDir ?? opts.dataDir ?? mkdtempSync(join(tmpdir(), 'tracewire-test-'));
  const ownsDir = opts.reuse === undefined && opts.dataDir === undefined;
  const cluster =
    backend === 'cluster'
      ? opts.reuse?.clusterEnv
        ? { env: opts.reuse.clusterEnv, remove: () => opts.reuse!.removeData() }
        : await clusterState()
      : null;
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    TRACEWIRE_DATA_DIR: dataDir,
    TRACEWIRE_AUTH_SECRET: SECRET,
    TRACEWIRE_AGENT_PACE_MS: '5',
    TRACEWIRE_SHUTDOWN_GRACE_MS: '200',
    ...cluster?.env,
    ...opts.env,
  });
  const logger = opts.logger ?? pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  let server: TracewireServer;
  try {
    server = await createTracewire({ config, logger, ...opts.overrides });
  } catch (err) {
    if (opts.reuse === undefined) await cluster?.remove();
    throw err;
  }
  const url = server.url;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
  };
  let removed = false;
  const removeData = async () => {
    if (removed) return;
    removed = true;
    if (ownsDir || opts.reuse) rmSync(dataDir, { recursive: true, force: true });
    await cluster?.remove();
  };
  return {
    backend,
    clusterEnv: cluster?.env ?? null,
    server,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/trpc`,
    dataDir,
    tokenFor: (userId, o) =>
      signToken({ ...config.auth, userId, ...(o?.expiresIn ? { expiresIn: o.expiresIn } : {}) }),
    stop,
    removeData,
    async [Symbol.asyncDispose]() {
      await stop();
      if (!opts.keepData && !opts.dataDir) await removeData();
    },
  };
}

/** The secret test servers use (for tests that sign their own tokens). */
export const TEST_AUTH_SECRET = SECRET;
