import { EnvSchema, type Env } from './configSchema.js';

export { CONFIG_VARIABLES, configVariables, type ConfigVariable } from './configSchema.js';

/**
 * A secret from the environment. It prints as `[redacted]` (logs, `JSON.stringify`,
 * `util.inspect`), so logging the configuration cannot leak it; `reveal()` gives the value.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret itself, for the one place that sends it. */
  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return '[redacted]';
  }

  toString(): string {
    return '[redacted]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[redacted]';
  }
}

/** The LLM agent's settings (present when `TRACEWIRE_LLM_BASE_URL` is set). */
export interface LlmConfig {
  /** OpenAI-compatible endpoint, e.g. `http://127.0.0.1:8080/v1`. */
  baseUrl: string;
  model: string;
  /** Sent as `Authorization: Bearer`; never logged. */
  apiKey: Secret | undefined;
  /** Model calls per run before the tool loop gives up (STEP_LIMIT). */
  maxSteps: number;
  /** `max_tokens` per model call; 0 = not sent (the endpoint's default). */
  maxTokens: number;
  /** Sampling temperature; undefined = not sent. */
  temperature: number | undefined;
  /** Longest wait for the response to start, and between two chunks of it. */
  timeoutMs: number;
  /** Retries of a failed model call before any text was shown. */
  retries: number;
  /** Longest `Retry-After` the agent waits for; a longer one ends the run with RATE_LIMITED. */
  retryAfterMaxMs: number;
  /** Ask for token usage (`stream_options.include_usage`). */
  requestUsage: boolean;
  /** Record prompt and completion text on model spans. */
  recordContent: boolean;
  /** System prompt; undefined = the agent's built-in one. */
  systemPrompt: string | undefined;
}

/** The server's typed configuration. */
export interface Config {
  env: 'development' | 'production' | 'test';
  isDev: boolean;
  port: number;
  host: string;
  dataDir: string;
  auth: {
    /**
     * HS256 secret: `TRACEWIRE_AUTH_SECRET`, else the public dev secret when no key of any
     * kind is configured outside production, else '' (HS256 off).
     */
    secret: string;
    /** False when only asymmetric keys are accepted (a JWKS / public key and no secret, in any mode). */
    hs256: boolean;
    /** Remote JWK Set (RS256) fetched and cached by jose. */
    jwksUrl: string | undefined;
    /** SPKI PEM public key (RS256). */
    publicKey: string | undefined;
    /** True when `secret` is the built-in dev secret (no key of any kind configured). */
    devSecret: boolean;
    issuer: string | undefined;
    audience: string | undefined;
    /** Refuse tokens without `exp` (the default; `TRACEWIRE_AUTH_ALLOW_NO_EXP` turns it off). */
    requireExp: boolean;
    /** A connection authenticated by a token without `exp` is closed after this long. */
    noExpLifetimeMs: number;
  };
  logLevel: string;
  agent: {
    paceMs: number;
    runTimeoutMs: number;
    toolTimeoutMs: number;
    maxConcurrentRunsPerUser: number;
    /** Per-tool circuit breaker (per server); absent = defaults (5 failures, 30 s). */
    toolBreaker?: { failureThreshold: number; cooldownMs: number };
    /**
     * Agent events per second (per process, bursts of as many) that get a PRODUCER span of
     * their own; the others link to their run's span. 0: none do. Absent: every event.
     */
    eventSpansPerSecond?: number;
  };
  shutdownGraceMs: number;
  ws: {
    pingMs: number;
    pongWaitMs: number;
    maxPayloadBytes: number;
    /** Close with AUTH_TIMEOUT (4004) when no `connectionParams` frame arrives within this. */
    authTimeoutMs: number;
    /**
     * Sockets waiting to authenticate at once (not counted in `maxConnections`); past it the
     * one waiting longest is closed TOO_MANY_CONNECTIONS (4009).
     */
    maxUnauthenticated: number;
    /** Largest `connectionParams` frame, and the most a socket may send before it (1009). */
    preAuthBytes: number;
    /** Query and mutation answers that may wait unsent on one connection (PAYLOAD_TOO_LARGE). */
    responseBudgetBytes: number;
    /** Browser origins allowed to open a WebSocket; null = any. */
    allowedOrigins: readonly string[] | null;
    /** Inbound frames per second per connection (token bucket); above: RATE_LIMITED (4029). */
    framesPerSecond: number;
    frameBurst: number;
    /** Deepest JSON nesting accepted in a frame; deeper: PROTOCOL_ERROR (4011). */
    maxJsonDepth: number;
  };
  limits: {
    /** Authenticated WebSocket connections per server. */
    maxConnections: number;
    /** WebSocket connections (and SSE streams) per user. */
    maxConnectionsPerUser: number;
    maxSubscriptionsPerConnection: number;
    /** Per-user token bucket on mutations. */
    mutationsPerSecond: number;
    mutationBurst: number;
    /** Threads one user may own; `chat.createThread` beyond it is FORBIDDEN. */
    maxThreadsPerUser: number;
  };
  http: {
    maxBodyBytes: number;
    maxBatchSize: number;
    sseEnabled: boolean;
    /** JSON bytes the answers to one HTTP request may hold (see middleware/responseBudget.ts). */
    responseBudgetBytes: number;
  };
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
  /** OTLP span batches serialised and sent on a worker thread instead of the event loop. */
  otlpExportThread: boolean;
  /** The LLM agent on an OpenAI-compatible endpoint; undefined = not served. */
  llm: LlmConfig | undefined;
  /**
   * Cluster mode: PostgreSQL for threads, messages and runs, Redis for the event log,
   * coordination and limits. Null on the embedded default (SQLite file, one process).
   */
  cluster: ClusterConfig | null;
  /** The web chat at `/` (built from web/); `TRACEWIRE_WEB=false` turns it off. */
  web: { enabled: boolean };
}

/** Where the shared state of several instances lives (both URLs are required together). */
export interface ClusterConfig {
  /** `postgres://…`: the ChatStore's database (its name keeps deployments apart). */
  databaseUrl: string;
  /** `redis://…`: event log, fan-out between instances, run coordination, limits. */
  redisUrl: string;
  /** Prefix of every Redis key and channel. @default 'tw:' */
  redisPrefix: string;
}

/**
 * The dev secret, used only when no key of any kind (secret, JWKS URL, public key) is
 * configured, outside production. It is in the source: anyone can sign tokens with it.
 */
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
  const asymmetric = Boolean(e.TRACEWIRE_AUTH_JWKS_URL ?? e.TRACEWIRE_AUTH_PUBLIC_KEY);
  const secret = e.TRACEWIRE_AUTH_SECRET;
  // The public dev secret only when nothing else could authenticate anyone: with a key
  // configured, an HS256 token is accepted only with a secret someone chose, in every mode.
  const devSecret = !secret && !asymmetric;
  if (e.NODE_ENV === 'production' && devSecret) {
    throw new ConfigError(
      'Invalid configuration:\n  TRACEWIRE_AUTH_SECRET: required when NODE_ENV=production ' +
        '(or set TRACEWIRE_AUTH_JWKS_URL / TRACEWIRE_AUTH_PUBLIC_KEY)',
    );
  }
  if (e.TRACEWIRE_LLM_BASE_URL && !e.TRACEWIRE_LLM_MODEL) {
    throw new ConfigError(
      'Invalid configuration:\n  TRACEWIRE_LLM_MODEL: required when TRACEWIRE_LLM_BASE_URL is set',
    );
  }
  const cluster = clusterConfig(e);
  const origins = (e.TRACEWIRE_ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0);
  return {
    env: e.NODE_ENV,
    isDev: e.NODE_ENV !== 'production',
    port: e.PORT,
    host: e.HOST,
    dataDir: e.TRACEWIRE_DATA_DIR,
    auth: {
      secret: secret ?? (devSecret ? DEV_AUTH_SECRET : ''),
      devSecret,
      hs256: Boolean(secret) || devSecret,
      jwksUrl: e.TRACEWIRE_AUTH_JWKS_URL,
      // Env files often carry PEM newlines as literal `\n`.
      publicKey: e.TRACEWIRE_AUTH_PUBLIC_KEY?.replace(/\\n/g, '\n'),
      issuer: e.TRACEWIRE_AUTH_ISSUER,
      audience: e.TRACEWIRE_AUTH_AUDIENCE,
      requireExp: !e.TRACEWIRE_AUTH_ALLOW_NO_EXP,
      noExpLifetimeMs: e.TRACEWIRE_MAX_CONNECTION_LIFETIME_MS,
    },
    logLevel: e.TRACEWIRE_LOG_LEVEL,
    agent: {
      paceMs: e.TRACEWIRE_AGENT_PACE_MS,
      runTimeoutMs: e.TRACEWIRE_RUN_TIMEOUT_MS,
      toolTimeoutMs: e.TRACEWIRE_TOOL_TIMEOUT_MS,
      maxConcurrentRunsPerUser: e.TRACEWIRE_MAX_CONCURRENT_RUNS_PER_USER,
      toolBreaker: {
        failureThreshold: e.TRACEWIRE_TOOL_BREAKER_FAILURES,
        cooldownMs: e.TRACEWIRE_TOOL_BREAKER_COOLDOWN_MS,
      },
      eventSpansPerSecond: e.TRACEWIRE_EVENT_SPANS_PER_SECOND,
    },
    shutdownGraceMs: e.TRACEWIRE_SHUTDOWN_GRACE_MS,
    ws: {
      pingMs: e.TRACEWIRE_WS_PING_MS,
      pongWaitMs: e.TRACEWIRE_WS_PONG_WAIT_MS,
      maxPayloadBytes: e.TRACEWIRE_MAX_PAYLOAD_BYTES,
      authTimeoutMs: e.TRACEWIRE_WS_AUTH_TIMEOUT_MS,
      maxUnauthenticated: e.TRACEWIRE_WS_MAX_UNAUTHENTICATED,
      preAuthBytes: e.TRACEWIRE_WS_PREAUTH_MAX_BYTES,
      responseBudgetBytes: e.TRACEWIRE_WS_RESPONSE_BUDGET_BYTES,
      allowedOrigins: origins.length > 0 ? origins : null,
      framesPerSecond: e.TRACEWIRE_WS_FRAMES_PER_SECOND,
      frameBurst: e.TRACEWIRE_WS_FRAME_BURST,
      maxJsonDepth: e.TRACEWIRE_WS_MAX_JSON_DEPTH,
    },
    limits: {
      maxConnections: e.TRACEWIRE_MAX_CONNECTIONS,
      maxConnectionsPerUser: e.TRACEWIRE_MAX_CONNECTIONS_PER_USER,
      maxSubscriptionsPerConnection: e.TRACEWIRE_MAX_SUBSCRIPTIONS_PER_CONNECTION,
      mutationsPerSecond: e.TRACEWIRE_MUTATIONS_PER_SECOND,
      mutationBurst: e.TRACEWIRE_MUTATION_BURST,
      maxThreadsPerUser: e.TRACEWIRE_MAX_THREADS_PER_USER,
    },
    http: {
      maxBodyBytes: e.TRACEWIRE_MAX_BODY_BYTES,
      maxBatchSize: e.TRACEWIRE_MAX_BATCH_SIZE,
      sseEnabled: e.TRACEWIRE_SSE_ENABLED,
      responseBudgetBytes: e.TRACEWIRE_HTTP_RESPONSE_BUDGET_BYTES,
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
    otlpExportThread: e.TRACEWIRE_OTLP_EXPORT_THREAD,
    llm: e.TRACEWIRE_LLM_BASE_URL
      ? {
          baseUrl: e.TRACEWIRE_LLM_BASE_URL,
          model: e.TRACEWIRE_LLM_MODEL!,
          apiKey: e.TRACEWIRE_LLM_API_KEY ? new Secret(e.TRACEWIRE_LLM_API_KEY) : undefined,
          maxSteps: e.TRACEWIRE_LLM_MAX_STEPS,
          maxTokens: e.TRACEWIRE_LLM_MAX_TOKENS,
          temperature: e.TRACEWIRE_LLM_TEMPERATURE,
          timeoutMs: e.TRACEWIRE_LLM_TIMEOUT_MS,
          retries: e.TRACEWIRE_LLM_RETRIES,
          retryAfterMaxMs: e.TRACEWIRE_LLM_RETRY_AFTER_MAX_MS,
          requestUsage: e.TRACEWIRE_LLM_REQUEST_USAGE,
          recordContent: e.TRACEWIRE_LLM_RECORD_CONTENT,
          systemPrompt: e.TRACEWIRE_LLM_SYSTEM_PROMPT,
        }
      : undefined,
    cluster,
    web: { enabled: e.TRACEWIRE_WEB },
  };
}

/** Both URLs: cluster mode; neither: embedded; one alone is refused, naming the other. */
function clusterConfig(e: Env): ClusterConfig | null {
  const { TRACEWIRE_DATABASE_URL: databaseUrl, TRACEWIRE_REDIS_URL: redisUrl } = e;
  if (databaseUrl === undefined && redisUrl === undefined) return null;
  if (databaseUrl === undefined || redisUrl === undefined) {
    const [set, missing] =
      databaseUrl === undefined
        ? ['TRACEWIRE_REDIS_URL', 'TRACEWIRE_DATABASE_URL']
        : ['TRACEWIRE_DATABASE_URL', 'TRACEWIRE_REDIS_URL'];
    throw new ConfigError(
      `Invalid configuration:\n  ${missing}: required when ${set} is set ` +
        '(cluster mode needs both PostgreSQL and Redis; set neither for the embedded default)',
    );
  }
  return { databaseUrl, redisUrl, redisPrefix: e.TRACEWIRE_REDIS_PREFIX };
}
