import { AppError, hookStream } from '@tracewire/shared';
import type { BaseContext } from '../context.js';
import { limitsFor, type Limits } from '../limits/index.js';
import { middleware } from '../trpc.js';
import { ForwardingIterator, isAsyncIterable } from '../util/forwardingIterator.js';

/**
 * Wraps a subscription's iterable so `release` runs exactly once when it ends in any way:
 * done, error, `return()` — or never started (the transport disposes it unstarted when the
 * client left), which the `signal` covers. A plain object, not a generator: a generator that
 * never started ignores `return()` and would leak the slot.
 */
export function releaseOnEnd<T>(source: AsyncIterable<T>, release: () => void): AsyncIterable<T> {
  return new ReleasingIterator(source, release);
}

/** The iterable of {@link releaseOnEnd}; `release` is idempotent (a slot release). */
class ReleasingIterator<T> extends ForwardingIterator<T> {
  readonly #release: () => void;

  constructor(source: AsyncIterable<T>, release: () => void) {
    super(source);
    this.#release = release;
  }

  // Not async: one promise per streamed event.
  next(): Promise<IteratorResult<T>> {
    const release = this.#release;
    return this.it.next().then(
      (r) => {
        if (r.done) release();
        return r;
      },
      (err: unknown): never => {
        release();
        throw err;
      },
    );
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    this.#release();
    return (await this.it.return?.(value)) ?? { done: true, value: undefined as T };
  }

  async throw(err?: unknown): Promise<IteratorResult<T>> {
    this.#release();
    if (this.it.throw) return this.it.throw(err);
    throw err;
  }
}

/** Takes a subscription slot for the call's connection (WS) or user (SSE), or refuses. */
function acquireSubscription(
  ctx: BaseContext,
  limits: Limits,
  userId: string,
): (() => void) | null {
  if (ctx.transport === 'ws' && ctx.connectionId) {
    const max = limits.config.maxSubscriptionsPerConnection;
    const release = limits.subscriptions.acquire(ctx.connectionId, max);
    if (release) return release;
    limits.hit('subscriptions_per_connection');
    throw new AppError('TOO_MANY_REQUESTS', `at most ${max} subscriptions per connection`);
  }
  if (ctx.transport === 'sse') {
    // Each SSE stream is its own HTTP connection: it counts against the per-user connection limit.
    const max = limits.config.maxConnectionsPerUser;
    const release = limits.sseStreams.acquire(userId, max);
    if (release) return release;
    limits.hit('sse_streams_per_user');
    throw new AppError('TOO_MANY_REQUESTS', `at most ${max} event streams per user`);
  }
  return null;
}

/**
 * Per-user limits for authenticated calls (after `requireUser`): a token bucket on mutations
 * (TOO_MANY_REQUESTS with the wait in the message) and a cap on live subscriptions per WS
 * connection / SSE streams per user. In-process callers are trusted and not limited.
 * Refusals are counted in {@link limitsFor}`(services).stats()`.
 */
export const enforceLimits = middleware(async (opts) => {
  const ctx: BaseContext = opts.ctx;
  const userId = ctx.principal?.userId;
  if (ctx.transport === 'internal' || !userId) return opts.next();
  const limits = limitsFor(ctx.services);

  if (opts.type === 'mutation') {
    const taken = limits.mutations.take(userId);
    if (!taken.ok) {
      limits.hit('mutation_rate');
      throw new AppError(
        'TOO_MANY_REQUESTS',
        `mutation rate limit exceeded (${limits.config.mutationsPerSecond}/s per user): retry after ${taken.retryAfterMs} ms`,
      );
    }
    const result = await opts.next();
    if (!result.ok && opts.path === 'chat.send' && isTooManyRequests(result.error))
      limits.hit('concurrent_runs');
    return result;
  }

  if (opts.type !== 'subscription') return opts.next();
  const release = acquireSubscription(ctx, limits, userId);
  if (!release) return opts.next();
  opts.signal?.addEventListener('abort', release, { once: true });
  try {
    const result = await opts.next();
    if (!result.ok || !isAsyncIterable(result.data)) {
      release();
      return result;
    }
    // A stream that reports its own end (agent.events) releases through that: no wrapper.
    if (hookStream(result.data, { onEnd: release })) return result;
    return { ...result, data: releaseOnEnd(result.data, release) };
  } catch (err) {
    release();
    throw err;
  }
});

function isTooManyRequests(error: { code: string; cause?: unknown }): boolean {
  return (
    error.code === 'TOO_MANY_REQUESTS' ||
    (AppError.is(error.cause) && error.cause.code === 'TOO_MANY_REQUESTS')
  );
}
