/**
 * Every refusal the server makes for a limit or a security check, by name. The names are
 * stable: they become the `limit` attribute of the refusal metric.
 */
export const LIMIT_NAMES = [
  'auth_missing',
  'auth_invalid',
  'auth_expired_at_connect',
  'auth_timeout',
  'auth_unavailable',
  'token_expired_while_open',
  'forbidden_origin',
  'connections_global',
  'connections_per_user',
  'subscriptions_per_connection',
  'sse_streams_per_user',
  'mutation_rate',
  'concurrent_runs',
  'frame_rate',
  'binary_frame',
  'json_depth',
  'malformed_connection_params',
  'preauth_bytes',
  'unauthenticated_connections',
  'ws_payload_too_large',
  'ws_response_budget',
  'ws_slow_consumer',
  'http_payload_too_large',
  'batch_too_large',
  'response_budget',
  'threads_per_user',
  'url_token',
] as const;

/** A counted refusal. */
export type LimitName = (typeof LIMIT_NAMES)[number];

/** Refusal counters (monotonic, per server). */
export interface LimitCounters {
  hit(name: LimitName): void;
  /** A snapshot of every counter (zeros included). */
  stats(): Record<LimitName, number>;
}

/** Creates zeroed counters. */
export function createLimitCounters(): LimitCounters {
  const counts = Object.fromEntries(LIMIT_NAMES.map((n) => [n, 0])) as Record<LimitName, number>;
  return {
    hit(name) {
      counts[name]++;
    },
    stats: () => ({ ...counts }),
  };
}
