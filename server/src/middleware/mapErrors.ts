import type { CallContext } from '../context.js';
import { tagRequestId, toTRPCError } from '../errors.js';
import { middleware } from '../trpc.js';

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> =>
  typeof v === 'object' && v !== null && Symbol.asyncIterator in v;

/**
 * Forwards `source` step by step, re-throwing what it throws as `map(err)`. A plain iterator
 * rather than an async generator: one promise per event instead of a generator resumption
 * per wrapper, and `return()` reaches the source even before the first `next()`.
 */
export function mapIterableErrors<T>(
  source: AsyncIterable<T>,
  map: (err: unknown) => Error,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = source[Symbol.asyncIterator]();
      const rethrow = (err: unknown): never => {
        throw map(err);
      };
      return {
        next: () => it.next().then(undefined, rethrow),
        return: (value?: unknown) =>
          it.return
            ? it.return(value).then(undefined, rethrow)
            : Promise.resolve({ done: true, value: value as T }),
        throw: (err?: unknown) =>
          it.throw ? it.throw(err).then(undefined, rethrow) : Promise.reject(map(err)),
      };
    },
  };
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
    return { ...result, data: mapIterableErrors(result.data, map) };
  }
  return result;
});
