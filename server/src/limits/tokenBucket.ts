/** Outcome of taking from a bucket. */
export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

/** Options of a token bucket: `burst` tokens at most, refilled at `perSecond`. */
export interface TokenBucketOptions {
  perSecond: number;
  burst: number;
  /** Clock (ms); injectable for tests. */
  now?: () => number;
}

/** One token bucket (e.g. frames of one connection). */
export interface TokenBucket {
  take(cost?: number): TakeResult;
}

interface State {
  tokens: number;
  at: number;
}

function refill(state: State, opts: Required<TokenBucketOptions>, now: number): void {
  const elapsed = Math.max(0, now - state.at);
  state.tokens = Math.min(opts.burst, state.tokens + (elapsed * opts.perSecond) / 1000);
  state.at = now;
}

function takeFrom(state: State, opts: Required<TokenBucketOptions>, cost: number): TakeResult {
  refill(state, opts, opts.now());
  if (state.tokens >= cost) {
    state.tokens -= cost;
    return { ok: true };
  }
  return { ok: false, retryAfterMs: Math.ceil(((cost - state.tokens) * 1000) / opts.perSecond) };
}

const monotonicNow = () => performance.now();

const withDefaults = (o: TokenBucketOptions): Required<TokenBucketOptions> => ({
  now: monotonicNow,
  ...o,
});

/** Creates a token bucket that starts full: bursts up to `burst`, sustained `perSecond`. */
export function createTokenBucket(options: TokenBucketOptions): TokenBucket {
  return new SingleTokenBucket(withDefaults(options));
}

/**
 * One bucket is its own state: an object per bucket rather than a state object, a closure
 * and its context (every WebSocket connection holds one for its frame budget).
 */
class SingleTokenBucket implements TokenBucket, State {
  tokens: number;
  at: number;
  readonly #opts: Required<TokenBucketOptions>;

  constructor(opts: Required<TokenBucketOptions>) {
    this.#opts = opts;
    this.tokens = opts.burst;
    this.at = opts.now();
  }

  take(cost = 1): TakeResult {
    return takeFrom(this, this.#opts, cost);
  }
}

/** Token buckets by key (e.g. per user), with memory bounded by pruning full buckets. */
export interface KeyedTokenBuckets {
  take(key: string, cost?: number): TakeResult;
  /** Keys currently tracked (for tests and metrics). */
  size(): number;
}

/**
 * Creates keyed buckets. A bucket that has refilled completely is indistinguishable from a
 * new one, so it is dropped when the map grows past `pruneAbove` keys: memory stays
 * proportional to the keys active within the last `burst / perSecond` seconds.
 */
export function createKeyedTokenBuckets(
  options: TokenBucketOptions & { pruneAbove?: number },
): KeyedTokenBuckets {
  const opts = withDefaults(options);
  const pruneAbove = options.pruneAbove ?? 10_000;
  const buckets = new Map<string, State>();
  const prune = () => {
    const now = opts.now();
    for (const [key, state] of buckets) {
      refill(state, opts, now);
      if (state.tokens >= opts.burst) buckets.delete(key);
    }
  };
  return {
    take(key, cost = 1) {
      let state = buckets.get(key);
      if (!state) {
        if (buckets.size >= pruneAbove) prune();
        state = { tokens: opts.burst, at: opts.now() };
        buckets.set(key, state);
      }
      return takeFrom(state, opts, cost);
    },
    size: () => buckets.size,
  };
}
