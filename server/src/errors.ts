import { TRPCError } from '@trpc/server';
import { APP_TO_TRPC_CODE, AppError } from '@tracewire/shared';

const requestIds = new WeakMap<object, string>();

/** Remembers which call an error belongs to, so the formatter can echo the request id. */
export function tagRequestId(error: object, requestId: string): void {
  if (!requestIds.has(error)) requestIds.set(error, requestId);
}

/** The request id an error was tagged with, if any. */
export const requestIdOf = (error: object): string | undefined => requestIds.get(error);

/**
 * Maps anything thrown to a TRPCError with the right code: AppError by its code
 * (the single mapping table in shared), TRPCError as is, the rest INTERNAL.
 */
export function toTRPCError(error: unknown): TRPCError {
  const cause = error instanceof TRPCError && error.cause ? error.cause : error;
  if (AppError.is(cause)) {
    if (error instanceof TRPCError && error.code === APP_TO_TRPC_CODE[cause.code]) return error;
    return new TRPCError({ code: APP_TO_TRPC_CODE[cause.code], message: cause.message, cause });
  }
  if (error instanceof TRPCError) return error;
  return new TRPCError({
    code: 'INTERNAL_SERVER_ERROR',
    message: 'Internal server error',
    cause: error,
  });
}
