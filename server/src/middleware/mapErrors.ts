import { hookStream } from '@tracewire/shared';
import type { CallContext } from '../context.js';
import { tagRequestId, toTRPCError } from '../errors.js';
import { middleware } from '../trpc.js';
import { ForwardingIterator, isAsyncIterable } from '../util/forwardingIterator.js';

/**
 * Forwards `source` step by step, re-throwing what it throws as `map(err)`. A plain iterator
 * rather than an async generator: one promise per event instead of a generator resumption
 * per wrapper, and `return()` reaches the source even before the first `next()`.
 */
export function mapIterableErrors<T>(
  source: AsyncIterable<T>,
  map: (err: unknown) => Error,
): AsyncIterable<T> {
  return new ErrorMappingIterator(source, map);
}

/** The iterable of {@link mapIterableErrors}. */
class ErrorMappingIterator<T> extends ForwardingIterator<T> {
  readonly #map: (err: unknown) => Error;

  constructor(source: AsyncIterable<T>, map: (err: unknown) => Error) {
    super(source);
    this.#map = map;
  }

  next(): Promise<IteratorResult<T>> {
    return this.it.next().then(undefined, this.#rethrow());
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    return this.it.return
      ? this.it.return(value).then(undefined, this.#rethrow())
      : Promise.resolve({ done: true, value: value as T });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    return this.it.throw
      ? this.it.throw(err).then(undefined, this.#rethrow())
      : Promise.reject(this.#map(err));
  }

  #rethrow(): (err: unknown) => never {
    const map = this.#map;
    return (err) => {
      throw map(err);
    };
  }
}

/**
 * Innermost middleware: maps AppError (and anything else thrown) to the right tRPC code
 * right where it happens, so every outer layer (span status, metrics, logs) sees the
 * final code, for calls and for errors raised while a subscription streams. A stream's
 * errors are tagged with the call's request id here too: one wrapper per subscription.
 */
export const mapErrors = middleware(async ({ next, type, ctx }) => {
  const result = await next();
  if (!result.ok) return { ...result, error: toTRPCError(result.error) };
  if (type === 'subscription' && isAsyncIterable(result.data)) {
    const { requestId } = ctx as CallContext;
    const map = (err: unknown) => {
      const e = toTRPCError(err);
      tagRequestId(e, requestId);
      return e;
    };
    if (hookStream(result.data, { mapError: map })) return result;
    return { ...result, data: mapIterableErrors(result.data, map) };
  }
  return result;
});
