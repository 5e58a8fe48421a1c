import { z } from 'zod';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

/** Environment variables the server reads; every value has a default except the secret. */
const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(3000).pipe(z.number().max(65535)),
  HOST: z.string().min(1).default('127.0.0.1'),
  TRACEWIRE_DATA_DIR: z.string().min(1).default('./data'),
  TRACEWIRE_AUTH_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  TRACEWIRE_AUTH_ISSUER: z.string().min(1).optional(),
  TRACEWIRE_AUTH_AUDIENCE: z.string().min(1).optional(),
  TRACEWIRE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRACEWIRE_AGENT_PACE_MS: int(40),
  TRACEWIRE_RUN_TIMEOUT_MS: int(120_000, 1),
  TRACEWIRE_TOOL_TIMEOUT_MS: int(10_000, 1),
  TRACEWIRE_SHUTDOWN_GRACE_MS: int(10_000),
  TRACEWIRE_WS_PING_MS: int(30_000, 100),
  TRACEWIRE_WS_PONG_WAIT_MS: int(5_000, 100),
  TRACEWIRE_MAX_PAYLOAD_BYTES: int(1_048_576, 1024),
  TRACEWIRE_MAX_BODY_BYTES: int(1_048_576, 1024),
  TRACEWIRE_MAX_BATCH_SIZE: int(50, 1),
  TRACEWIRE_MAX_CONCURRENT_RUNS_PER_USER: int(8, 1),
  TRACEWIRE_SSE_ENABLED: bool(true),
  TRACEWIRE_SEND_HIGH_WATER_BYTES: int(1_048_576, 1024),
  TRACEWIRE_SLOW_CONSUMER_TIMEOUT_MS: int(10_000, 10),
  TRACEWIRE_SUBSCRIPTION_BUFFER_EVENTS: int(1024, 1),
  TRACEWIRE_RETENTION_MAX_EVENTS: int(10_000),
  TRACEWIRE_RETENTION_MAX_AGE_MS: int(7 * 24 * 3_600_000),
});

/** The server's typed configuration. */
export interface Config {
  env: 'development' | 'production' | 'test';
  isDev: boolean;
  port: number;
  host: string;
  dataDir: string;
  auth: {
    /** HS256 secret. In development a fixed dev secret is used when unset. */
    secret: string;
    /** True when `secret` is the built-in dev secret. */
    devSecret: boolean;
    issuer: string | undefined;
    audience: string | undefined;
  };
  logLevel: string;
  agent: { paceMs: number; runTimeoutMs: number; toolTimeoutMs: number; maxConcurrentRunsPerUser: number };
  shutdownGraceMs: number;
  ws: { pingMs: number; pongWaitMs: number; maxPayloadBytes: number };
  http: { maxBodyBytes: number; maxBatchSize: number; sseEnabled: boolean };
  delivery: {
    /** Above this many unsent bytes on a connection, a subscription stops writing and waits. */
    highWaterBytes: number;
    /** Stuck above the high-water mark this long: close with SLOW_CONSUMER (4008). */
    slowConsumerTimeoutMs: number;
    /** Live events buffered per subscription before it falls back to reading the log. */
    bufferEvents: number;
  };
  /** Event history kept per thread (0 = no limit). */
  retention: { maxEventsPerThread: number; maxAgeMs: number };
}

/** The dev secret used when none is configured outside production. Never for production. */
export const DEV_AUTH_SECRET = 'tracewire-dev-secret-do-not-use-in-production';

/** Thrown on invalid configuration; the message lists every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads and validates the configuration from environment variables. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && !e.TRACEWIRE_AUTH_SECRET) {
    throw new ConfigError(
      'Invalid configuration:\n  TRACEWIRE_AUTH_SECRET: required when NODE_ENV=production',
    );
  }
  return {
    env: e.NODE_ENV,
    isDev: e.NODE_ENV !== 'production',
    port: e.PORT,
    host: e.HOST,
    dataDir: e.TRACEWIRE_DATA_DIR,
    auth: {
      secret: e.TRACEWIRE_AUTH_SECRET ?? DEV_AUTH_SECRET,
      devSecret: !e.TRACEWIRE_AUTH_SECRET,
      issuer: e.TRACEWIRE_AUTH_ISSUER,
      audience: e.TRACEWIRE_AUTH_AUDIENCE,
    },
    logLevel: e.TRACEWIRE_LOG_LEVEL,
    agent: {
      paceMs: e.TRACEWIRE_AGENT_PACE_MS,
      runTimeoutMs: e.TRACEWIRE_RUN_TIMEOUT_MS,
      toolTimeoutMs: e.TRACEWIRE_TOOL_TIMEOUT_MS,
      maxConcurrentRunsPerUser: e.TRACEWIRE_MAX_CONCURRENT_RUNS_PER_USER,
    },
    shutdownGraceMs: e.TRACEWIRE_SHUTDOWN_GRACE_MS,
    ws: {
      pingMs: e.TRACEWIRE_WS_PING_MS,
      pongWaitMs: e.TRACEWIRE_WS_PONG_WAIT_MS,
      maxPayloadBytes: e.TRACEWIRE_MAX_PAYLOAD_BYTES,
    },
    http: {
      maxBodyBytes: e.TRACEWIRE_MAX_BODY_BYTES,
      maxBatchSize: e.TRACEWIRE_MAX_BATCH_SIZE,
      sseEnabled: e.TRACEWIRE_SSE_ENABLED,
    },
    delivery: {
      highWaterBytes: e.TRACEWIRE_SEND_HIGH_WATER_BYTES,
      slowConsumerTimeoutMs: e.TRACEWIRE_SLOW_CONSUMER_TIMEOUT_MS,
      bufferEvents: e.TRACEWIRE_SUBSCRIPTION_BUFFER_EVENTS,
    },
    retention: {
      maxEventsPerThread: e.TRACEWIRE_RETENTION_MAX_EVENTS,
      maxAgeMs: e.TRACEWIRE_RETENTION_MAX_AGE_MS,
    },
  };
}
