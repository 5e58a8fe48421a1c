/** Reconnect/retry delays: exponential with FULL jitter and a cap (no thundering herd after a restart). */
export interface BackoffOptions {
  /** Delay scale for the first attempt, in ms. Default 500. */
  baseMs?: number | undefined;
  /** Upper bound of any delay, in ms. Default 30 000. */
  maxMs?: number | undefined;
  /** Source of randomness in [0, 1); injectable for tests. Default `Math.random`. */
  random?: (() => number) | undefined;
}

/** Defaults used by the SDK for WS reconnects, resubscribes and `send` retries. */
export const DEFAULT_BACKOFF = { baseMs: 500, maxMs: 30_000 } as const;

/**
 * Returns `delay(attempt)` = random(0, min(maxMs, baseMs · 2^attempt)), attempt counted from 0.
 * Full jitter (AWS architecture blog, "Exponential Backoff And Jitter") spreads the
 * reconnects of many clients cut at the same moment over the whole window.
 */
export function createBackoff(opts: BackoffOptions = {}): (attempt: number) => number {
  const baseMs = Math.max(0, opts.baseMs ?? DEFAULT_BACKOFF.baseMs);
  const maxMs = Math.max(0, opts.maxMs ?? DEFAULT_BACKOFF.maxMs);
  const random = opts.random ?? Math.random;
  return (attempt) => {
    // 2^attempt overflows to Infinity for huge attempts; min() keeps it at the cap.
    const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
    return Math.floor(random() * ceiling);
  };
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
