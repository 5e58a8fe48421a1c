import type { AgentErrorCode } from './events.js';

/**
 * The one error model. Every failure the platform reports carries one of these codes;
 * each maps once to a tRPC error code (and so to an HTTP status).
 */
export const APP_ERROR_CODES = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  TIMEOUT: 'TIMEOUT',
  CANCELLED: 'CANCELLED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type AppErrorCode = keyof typeof APP_ERROR_CODES;

/** tRPC error code for each app code (the single mapping table). */
export const APP_TO_TRPC_CODE = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  TIMEOUT: 'TIMEOUT',
  CANCELLED: 'CLIENT_CLOSED_REQUEST',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
} as const satisfies Record<AppErrorCode, string>;
export type TrpcErrorCodeKey = (typeof APP_TO_TRPC_CODE)[AppErrorCode];

/** App code for a tRPC code (inverse of {@link APP_TO_TRPC_CODE}, unknown codes → INTERNAL). */
export function appCodeFromTrpcCode(code: string): AppErrorCode {
  for (const [app, trpc] of Object.entries(APP_TO_TRPC_CODE)) {
    if (trpc === code) return app as AppErrorCode;
  }
  if (
    code === 'PARSE_ERROR' ||
    code === 'METHOD_NOT_SUPPORTED' ||
    code === 'UNSUPPORTED_MEDIA_TYPE'
  )
    return 'BAD_REQUEST';
  if (code === 'PRECONDITION_FAILED' || code === 'UNPROCESSABLE_CONTENT') return 'BAD_REQUEST';
  return 'INTERNAL';
}

/** Agent error codes for which sending the message again may succeed (the default of `retryable`). */
const RETRYABLE_AGENT_CODES: ReadonlySet<AgentErrorCode> = new Set([
  'TIMEOUT',
  'SHUTDOWN',
  'RATE_LIMITED',
  'UPSTREAM_ERROR',
  'INTERNAL',
  'INSTANCE_LOST',
]);

/**
 * Whether an `agent_error` of this code is retryable when its producer says nothing more
 * specific (an agent may: a 4xx from a model endpoint is an `UPSTREAM_ERROR` that is not).
 */
export const isRetryableAgentCode = (code: AgentErrorCode): boolean =>
  RETRYABLE_AGENT_CODES.has(code);

/** True for codes where retrying the same call later may succeed. */
export const isRetryableAppCode = (code: AppErrorCode): boolean =>
  code === 'TOO_MANY_REQUESTS' || code === 'UNAVAILABLE' || code === 'TIMEOUT';

/** Machine-readable details the server adds to every error (`error.data` on the client). */
export interface AppErrorData {
  /** The app error code. */
  appCode: AppErrorCode;
  /** The request id of the failed call (also in the server's span and logs). */
  requestId: string | null;
  /** Flattened zod issues when the input was invalid. */
  zodError: { formErrors: string[]; fieldErrors: Record<string, string[] | undefined> } | null;
}

/**
 * The platform's error. Domain code throws it; the server maps it to tRPC once.
 * `cause` is kept for logs, never sent to clients.
 */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: AppErrorCode;

  constructor(code: AppErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** Normalises anything thrown into an AppError (abort → CANCELLED, unknown → INTERNAL). */
  static from(reason: unknown, fallback: AppErrorCode = 'INTERNAL'): AppError {
    if (reason instanceof AppError) return reason;
    if (reason instanceof Error) {
      if (reason.name === 'AbortError')
        return new AppError('CANCELLED', reason.message, { cause: reason });
      if (reason.name === 'TimeoutError')
        return new AppError('TIMEOUT', reason.message, { cause: reason });
      const code = (reason as { code?: unknown }).code;
      if (typeof code === 'string' && code in APP_ERROR_CODES) {
        return new AppError(code as AppErrorCode, reason.message, { cause: reason });
      }
      return new AppError(fallback, reason.message, { cause: reason });
    }
    return new AppError(fallback, String(reason), { cause: reason });
  }

  /** Instance check that survives duplicated package copies. */
  static is(value: unknown): value is AppError {
    return (
      value instanceof AppError ||
      (value instanceof Error &&
        value.name === 'AppError' &&
        typeof (value as { code?: unknown }).code === 'string')
    );
  }
}
