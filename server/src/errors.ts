import { TRPCError } from '@trpc/server';
import { APP_TO_TRPC_CODE, AppError, type AppErrorCode } from '@tracewire/shared';
import { ZodError } from 'zod';

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

/** What clients read in production for an error whose own text is withheld. */
const WITHHELD: Record<AppErrorCode, string> = {
  BAD_REQUEST: 'Bad request: the input could not be processed',
  UNAUTHORIZED: 'Unauthorized',
  FORBIDDEN: 'Forbidden',
  NOT_FOUND: 'Not found',
  CONFLICT: 'Conflict',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  TOO_MANY_REQUESTS: 'Too many requests',
  TIMEOUT: 'Timed out',
  CANCELLED: 'Cancelled',
  UNAVAILABLE: 'Service unavailable',
  INTERNAL: 'Internal server error',
};

/** The message of an Error-like value, or null. */
const messageOf = (v: unknown): string | null =>
  v instanceof Error ? v.message : typeof v === 'string' ? v : null;

/** True when `message` repeats the text of `cause`, an error that is not one of ours. */
function copiesForeignText(message: string, cause: unknown): boolean {
  if (cause === undefined || cause === null || AppError.is(cause) || cause instanceof TRPCError)
    return false;
  if (cause instanceof ZodError) return false;
  const text = messageOf(cause);
  return text === null || text.length === 0 ? true : message.includes(text);
}

/**
 * The text a production client may read for `error`, or null when it must be withheld:
 * INTERNAL errors, and any message copied from an error the runtime or a library threw
 * ("Maximum call stack size exceeded", "Cannot read properties of undefined…", a JSON
 * parser's complaint). What is left are the messages this server wrote (AppError), input
 * validation issues (zod) and tRPC's own protocol messages ("No procedure found…").
 */
export function publicMessage(error: TRPCError, appCode: AppErrorCode): string | null {
  if (appCode === 'INTERNAL') return null;
  const cause = error.cause;
  if (AppError.is(cause))
    return copiesForeignText(cause.message, cause.cause) ? null : error.message;
  return copiesForeignText(error.message, cause) ? null : error.message;
}

/** The generic message sent instead of a withheld one. */
export const withheldMessage = (appCode: AppErrorCode): string => WITHHELD[appCode];
