/**
 * The environment variables the server reads, as one zod schema: names, coercion, bounds and
 * defaults. `loadConfig` (config.ts) turns them into the typed configuration; the docs and the
 * config coverage tests read the list from here.
 * @module
 */
import { z } from 'zod';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

/** Environment variables the server reads; every value has a default except the secret. */
export const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(3000).pipe(z.number().max(65535)),
  HOST: z.string().min(1).default('127.0.0.1'),
  TRACEWIRE_DATA_DIR: z.string().min(1).default('./data'),
  TRACEWIRE_AUTH_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  TRACEWIRE_AUTH_ISSUER: z.string().min(1).optional(),
  TRACEWIRE_AUTH_AUDIENCE: z.string().min(1).optional(),
  TRACEWIRE_AUTH_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  TRACEWIRE_AUTH_PUBLIC_KEY: z.string().min(1).optional(),
  TRACEWIRE_AUTH_ALLOW_NO_EXP: bool(false),
  TRACEWIRE_MAX_CONNECTION_LIFETIME_MS: int(3_600_000, 1_000),
  TRACEWIRE_WS_AUTH_TIMEOUT_MS: int(5_000, 1),
  TRACEWIRE_WS_MAX_UNAUTHENTICATED: int(1_024, 1),
  TRACEWIRE_WS_PREAUTH_MAX_BYTES: int(16_384, 1_024),
  TRACEWIRE_WS_RESPONSE_BUDGET_BYTES: int(4_194_304, 65_536),
  TRACEWIRE_ALLOWED_ORIGINS: z.string().optional(),
  TRACEWIRE_MAX_CONNECTIONS: int(10_000, 1),
  TRACEWIRE_MAX_CONNECTIONS_PER_USER: int(16, 1),
  TRACEWIRE_MAX_SUBSCRIPTIONS_PER_CONNECTION: int(32, 1),
  TRACEWIRE_MUTATIONS_PER_SECOND: int(20, 1),
  TRACEWIRE_MUTATION_BURST: int(60, 1),
  TRACEWIRE_WS_FRAMES_PER_SECOND: int(100, 1),
  TRACEWIRE_WS_FRAME_BURST: int(300, 1),
  TRACEWIRE_WS_MAX_JSON_DEPTH: int(64, 8),
  TRACEWIRE_TOOL_BREAKER_FAILURES: int(5),
  TRACEWIRE_TOOL_BREAKER_COOLDOWN_MS: int(30_000, 1),
  TRACEWIRE_EVENT_SPANS_PER_SECOND: int(10_000),
  TRACEWIRE_OTLP_EXPORT_THREAD: bool(false),
  TRACEWIRE_WEB: bool(true),
  TRACEWIRE_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
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
  TRACEWIRE_MAX_THREADS_PER_USER: int(1_000, 1),
  TRACEWIRE_HTTP_RESPONSE_BUDGET_BYTES: int(4_194_304, 1024),
  TRACEWIRE_SSE_ENABLED: bool(true),
  TRACEWIRE_SEND_HIGH_WATER_BYTES: int(1_048_576, 1024),
  TRACEWIRE_SLOW_CONSUMER_TIMEOUT_MS: int(10_000, 10),
  TRACEWIRE_SUBSCRIPTION_BUFFER_EVENTS: int(1024, 1),
  TRACEWIRE_RETENTION_MAX_EVENTS: int(10_000),
  TRACEWIRE_RETENTION_MAX_AGE_MS: int(7 * 24 * 3_600_000),
  TRACEWIRE_LLM_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  TRACEWIRE_LLM_MODEL: z.string().min(1).max(256).optional(),
  TRACEWIRE_LLM_API_KEY: z.string().min(1).optional(),
  TRACEWIRE_LLM_MAX_STEPS: int(8, 1).pipe(z.number().max(100)),
  TRACEWIRE_LLM_MAX_TOKENS: int(0),
  TRACEWIRE_LLM_TEMPERATURE: z.coerce.number().min(0).max(2).optional(),
  TRACEWIRE_LLM_TIMEOUT_MS: int(60_000, 100),
  TRACEWIRE_LLM_RETRIES: int(2).pipe(z.number().max(10)),
  TRACEWIRE_LLM_RETRY_AFTER_MAX_MS: int(30_000),
  TRACEWIRE_LLM_REQUEST_USAGE: bool(true),
  TRACEWIRE_LLM_RECORD_CONTENT: bool(false),
  TRACEWIRE_LLM_SYSTEM_PROMPT: z.string().max(32_000).optional(),
  TRACEWIRE_DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' })
    .optional(),
  TRACEWIRE_REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// URL' }).optional(),
  // Braces would break the hash tags that keep a thread's keys in one Redis Cluster slot.
  TRACEWIRE_REDIS_PREFIX: z
    .string()
    .regex(/^[\w:.-]{1,64}$/, 'must be 1-64 chars of [A-Za-z0-9_:.-]')
    .default('tw:'),
});

/** The parsed environment. */
export type Env = z.infer<typeof EnvSchema>;

/** Every environment variable the server reads (tests check that each one's effect is tested). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(EnvSchema.shape);

/** A variable the server reads, and its default (undefined when it has none). */
export interface ConfigVariable {
  name: string;
  default: unknown;
}

/** Every environment variable the server reads, with its default (the docs test reads these). */
export function configVariables(): ConfigVariable[] {
  return Object.entries(EnvSchema.shape).map(([name, schema]) => {
    const parsed = (schema as z.ZodType).safeParse(undefined);
    return { name, default: parsed.success ? parsed.data : undefined };
  });
}
