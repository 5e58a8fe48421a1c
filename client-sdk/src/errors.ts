import { TRPCClientError } from '@trpc/client';
import type { AppErrorCode, AppErrorData } from '@tracewire/shared';
import type { AppRouter } from './router.js';

/** A tRPC client error that came from a Tracewire server: `data` carries {@link AppErrorData}. */
export type TracewireError = TRPCClientError<AppRouter> & {
  readonly data: AppErrorData & { code: string; httpStatus: number; path?: string | undefined };
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** True for `TRPCClientError`, also across duplicated copies of `@trpc/client`. */
export function isTRPCClientErrorLike(e: unknown): e is TRPCClientError<AppRouter> {
  return e instanceof TRPCClientError || (e instanceof Error && e.name === 'TRPCClientError');
}

/**
 * True when `e` is an error the server answered with (it has `data.appCode`). Narrows
 * `e.data` to {@link AppErrorData}, so `switch (e.data.appCode)` is typed.
 */
export function isTracewireError(e: unknown): e is TracewireError {
  if (!isTRPCClientErrorLike(e)) return false;
  const data: unknown = e.data;
  return isObject(data) && typeof data['appCode'] === 'string';
}

/**
 * The server closed the WebSocket with a code that reconnecting cannot fix (4001 UNAUTHORIZED,
 * 4002 TOKEN_EXPIRED with a static token, 4003, 4011). The SDK stops reconnecting and fails the
 * calls and streams that waited on the socket with it (wrapped in a `TRPCClientError`), so an
 * app sees `getErrorInfo(e).appCode` instead of a call that never settles.
 */
export class ConnectionRefusedError extends Error {
  override readonly name = 'ConnectionRefusedError';
  /** What the app should treat it as: `UNAUTHORIZED` (auth) or `BAD_REQUEST` (protocol). */
  readonly appCode: AppErrorCode;
  /** The WebSocket close code the server sent. */
  readonly closeCode: number;

  constructor(opts: { appCode: AppErrorCode; closeCode: number; message: string }) {
    super(opts.message);
    this.appCode = opts.appCode;
    this.closeCode = opts.closeCode;
  }
}

/**
 * No connection to the server within the client's `connectTimeoutMs`: a WebSocket that would
 * not open (the server down or unreachable, a wrong URL, an origin the server refuses, which
 * a browser shows only as close 1006), or an HTTP call the network or the browser's CORS check
 * failed. Calls waiting for it fail with this (wrapped in a `TRPCClientError`; `getErrorInfo`
 * gives `UNAVAILABLE`) instead of waiting forever; the client keeps reconnecting in the
 * background, so subscriptions resume once the server can be reached (`client.state`).
 */
export class ConnectionUnavailableError extends Error {
  override readonly name = 'ConnectionUnavailableError';
  readonly appCode = 'UNAVAILABLE' as const;
  /** The URL the client could not reach. */
  readonly url: string;

  constructor(opts: { url: string; message: string; cause?: unknown }) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.url = opts.url;
  }
}

/** The {@link ConnectionUnavailableError} behind `e` (itself or its cause), if any. */
export function getConnectionUnavailable(e: unknown): ConnectionUnavailableError | null {
  if (e instanceof ConnectionUnavailableError) return e;
  if (e instanceof Error && e.cause instanceof ConnectionUnavailableError) return e.cause;
  return null;
}

/** True when the call failed because the server could not be reached in time (see {@link ConnectionUnavailableError}). */
export const isConnectionUnavailable = (e: unknown): boolean =>
  getConnectionUnavailable(e) !== null;

/** The {@link ConnectionRefusedError} behind `e` (itself or its cause), if any. */
export function getConnectionRefusal(e: unknown): ConnectionRefusedError | null {
  if (e instanceof ConnectionRefusedError) return e;
  if (e instanceof Error && e.cause instanceof ConnectionRefusedError) return e.cause;
  return null;
}

/** True when the call failed because the server refused the WebSocket for good (see {@link ConnectionRefusedError}). */
export const isConnectionRefused = (e: unknown): boolean => getConnectionRefusal(e) !== null;

const isAbort = (e: unknown) =>
  e instanceof Error &&
  (e.name === 'AbortError' || (isObject(e.cause) && e.cause['name'] === 'AbortError'));

/**
 * True when the call failed without an answer from the server: the WebSocket closed under an
 * in-flight call (tRPC rejects it with a `TRPCClientError` whose cause is the close event,
 * message "Unknown error" or "WebSocket closed"), or the HTTP fetch failed. The call may or
 * may not have run on the server, so only idempotent calls may be retried.
 */
export function isConnectionError(e: unknown): boolean {
  if (!isTRPCClientErrorLike(e)) return false;
  if (e.shape !== undefined && e.shape !== null) return false;
  return !isAbort(e) && !isConnectionRefused(e);
}

/** Flat, app-friendly view of any error a Tracewire call can throw. */
export interface ErrorInfo {
  /** App error code; `UNAVAILABLE` for connection failures, `INTERNAL` when unknown. */
  appCode: AppErrorCode;
  /** Request id to quote in a bug report (null when the server never answered). */
  requestId: string | null;
  /** Flattened zod issues for invalid input. */
  zodError: AppErrorData['zodError'];
  message: string;
  /** True when the error came from the server (false: connection or client-side failure). */
  fromServer: boolean;
  /** The WebSocket close code when the server refused the connection (see {@link ConnectionRefusedError}). */
  closeCode: number | null;
}

/** Normalises any thrown value into {@link ErrorInfo} (for logs, toasts, retries). */
export function getErrorInfo(e: unknown): ErrorInfo {
  const message = e instanceof Error ? e.message : String(e);
  if (isTracewireError(e)) {
    return {
      appCode: e.data.appCode,
      requestId: e.data.requestId,
      zodError: e.data.zodError,
      message,
      fromServer: true,
      closeCode: null,
    };
  }
  const base = { requestId: null, zodError: null, message, fromServer: false, closeCode: null };
  const refusal = getConnectionRefusal(e);
  if (refusal) return { ...base, appCode: refusal.appCode, closeCode: refusal.closeCode };
  if (isAbort(e)) return { ...base, appCode: 'CANCELLED' };
  return { ...base, appCode: isConnectionError(e) ? 'UNAVAILABLE' : 'INTERNAL' };
}
