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

/** A real server on port 0 with a fresh SQLite file, torn down by `await using`. */
export interface TestServer extends AsyncDisposable {
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
}

const SECRET = 'test-secret-0123456789-0123456789-abcdef';

/** Starts a Tracewire server for a test. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'tracewire-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    TRACEWIRE_DATA_DIR: dataDir,
    TRACEWIRE_AUTH_SECRET: SECRET,
    TRACEWIRE_AGENT_PACE_MS: '5',
    TRACEWIRE_SHUTDOWN_GRACE_MS: '200',
    ...opts.env,
  });
  const logger = opts.logger ?? pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  const server = await createTracewire({ config, logger, ...opts.overrides });
  const url = server.url;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
  };
  return {
    server,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/trpc`,
    dataDir,
    tokenFor: (userId, o) =>
      signToken({ ...config.auth, userId, ...(o?.expiresIn ? { expiresIn: o.expiresIn } : {}) }),
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
      if (!opts.keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The secret test servers use (for tests that sign their own tokens). */
export const TEST_AUTH_SECRET = SECRET;
