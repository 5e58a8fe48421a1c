/** State of one tool's breaker. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** Breaker settings; `failureThreshold` 0 disables breaking. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker fails calls fast before letting one probe through. */
  cooldownMs: number;
  /** Clock (ms); injectable for tests. */
  now?: () => number;
}

/** Admission decision for one call. */
export type Admission = { ok: true } | { ok: false; retryAfterMs: number; failures: number };

/** What a finished call reports back. `neutral`: says nothing about the tool's health. */
export type CallResult = 'success' | 'failure' | 'neutral';

/** One tool's breaker. */
export interface CircuitBreaker {
  /** Admits a call (closed; or the single probe once the cool-down is over) or refuses it. */
  admit(): Admission;
  /** Reports an admitted call's end; returns the state transition it caused, if any. */
  record(result: CallResult): 'opened' | 'reopened' | 'closed' | null;
  readonly state: BreakerState;
  readonly consecutiveFailures: number;
  readonly cooldownMs: number;
}

/** Counters of one tool's breaker, for metrics. */
export interface BreakerStats {
  state: BreakerState;
  consecutiveFailures: number;
  /** Times it opened (re-opens after a failed probe included). */
  opens: number;
  /** Calls refused while open. */
  rejected: number;
}

/** Breakers by tool name, one registry per server (per run manager). */
export interface CircuitBreakerRegistry {
  forTool(name: string): CircuitBreaker;
  stats(): Record<string, BreakerStats>;
  readonly options: Readonly<Required<Omit<BreakerOptions, 'now'>>>;
}

/** Defaults: open after 5 consecutive failures, probe after 30 s. */
export const DEFAULT_BREAKER = { failureThreshold: 5, cooldownMs: 30_000 } as const;

/**
 * Creates the per-tool breakers. A breaker is per tool per server and shared by every user:
 * a broken downstream is broken for everyone, so one user's failures make others fail fast.
 * Only health failures (timeouts, UNAVAILABLE, INTERNAL…) count, never argument or
 * client errors (see `countsAsFailure`), so a user cannot open a breaker with bad input.
 * Half-open admits a single probe; its success closes, its failure re-opens the breaker.
 */
export function createCircuitBreakerRegistry(
  opts: Partial<BreakerOptions> = {},
): CircuitBreakerRegistry {
  const options = {
    failureThreshold: opts.failureThreshold ?? DEFAULT_BREAKER.failureThreshold,
    cooldownMs: opts.cooldownMs ?? DEFAULT_BREAKER.cooldownMs,
  };
  const now = opts.now ?? (() => Date.now());
  const breakers = new Map<string, CircuitBreaker & { stats(): BreakerStats }>();

  const create = () => {
    let state: BreakerState = 'closed';
    let failures = 0;
    let openedAt = 0;
    let probing = false;
    let opens = 0;
    let rejected = 0;
    const open = () => {
      state = 'open';
      openedAt = now();
      probing = false;
      opens++;
    };
    return {
      cooldownMs: options.cooldownMs,
      get state() {
        return state;
      },
      get consecutiveFailures() {
        return failures;
      },
      admit(): Admission {
        if (options.failureThreshold === 0 || state === 'closed') return { ok: true };
        const waited = now() - openedAt;
        if (state === 'open' && waited >= options.cooldownMs) {
          state = 'half_open';
          probing = false;
        }
        if (state === 'half_open' && !probing) {
          probing = true;
          return { ok: true };
        }
        rejected++;
        return { ok: false, retryAfterMs: Math.max(0, options.cooldownMs - waited), failures };
      },
      record(result: CallResult) {
        if (options.failureThreshold === 0) return null;
        if (state === 'half_open') {
          if (!probing) return null;
          if (result === 'neutral') {
            probing = false;
            return null;
          }
          if (result === 'success') {
            state = 'closed';
            failures = 0;
            probing = false;
            return 'closed';
          }
          failures++;
          open();
          return 'reopened';
        }
        if (result === 'success') failures = 0;
        else if (
          result === 'failure' &&
          state === 'closed' &&
          ++failures >= options.failureThreshold
        ) {
          open();
          return 'opened';
        }
        return null;
      },
      stats: (): BreakerStats => ({ state, consecutiveFailures: failures, opens, rejected }),
    };
  };

  return {
    options,
    forTool(name) {
      let b = breakers.get(name);
      if (!b) {
        b = create();
        breakers.set(name, b);
      }
      return b;
    },
    stats: () => Object.fromEntries([...breakers].map(([name, b]) => [name, b.stats()])),
  };
}

/** Error codes that say nothing about a tool's health: the caller's input or a stop from outside. */
const NOT_HEALTH_FAILURES = new Set([
  'BAD_REQUEST',
  'NOT_FOUND',
  'FORBIDDEN',
  'UNAUTHORIZED',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'CANCELLED',
  'SHUTDOWN',
  'CIRCUIT_OPEN',
]);

/** True when a failed call with this error code should count towards opening the breaker. */
export const countsAsFailure = (code: string): boolean => !NOT_HEALTH_FAILURES.has(code);
