import { toTRPCError } from '../errors.js';
import { middleware } from '../trpc.js';

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> =>
  typeof v === 'object' && v !== null && Symbol.asyncIterator in v;

/** Re-throws stream errors as TRPCErrors with the mapped code. */
async function* mapStreamErrors(source: AsyncIterable<unknown>) {
  try {
    yield* source;
  } catch (err) {
    throw toTRPCError(err);
  }
}

/**
 * Innermost middleware: maps AppError (and anything else thrown) to the right tRPC code
 * right where it happens, so every outer layer (span status, metrics, logs) sees the
 * final code, for calls and for errors raised while a subscription streams.
 */
export const mapErrors = middleware(async ({ next, type }) => {
  const result = await next();
  if (!result.ok) return { ...result, error: toTRPCError(result.error) };
  if (type === 'subscription' && isAsyncIterable(result.data)) {
    return { ...result, data: mapStreamErrors(result.data) };
  }
  return result;
});
