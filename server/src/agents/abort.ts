/** Why a run (or one tool call) was stopped from outside. */
export type StopCode = 'CANCELLED' | 'TIMEOUT' | 'SHUTDOWN';

/**
 * The abort reason the engine puts on run and tool signals. Named like the DOM errors
 * (`AbortError` / `TimeoutError`) so `AppError.from` and third-party code classify it.
 */
export class RunStoppedError extends Error {
  readonly code: StopCode;

  constructor(code: StopCode, message: string) {
    super(message);
    this.name = code === 'TIMEOUT' ? 'TimeoutError' : 'AbortError';
    this.code = code;
  }
}

/** True for the engine's own abort reasons. */
export const isRunStoppedError = (value: unknown): value is RunStoppedError =>
  value instanceof RunStoppedError;

/** Aborts `controller` with a {@link RunStoppedError} unless it is already aborted (first reason wins). */
export function stop(controller: AbortController, code: StopCode, message: string): void {
  if (!controller.signal.aborted) controller.abort(new RunStoppedError(code, message));
}

/** The signal's abort reason as an Error (a bare `abort()` already gives a DOMException). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new RunStoppedError('CANCELLED', String(reason));
}

/**
 * Settles with `promise`, or rejects with the signal's reason as soon as it aborts, so
 * work that ignores its signal cannot hold up the caller. The losing promise's rejection
 * is still observed (no unhandled rejection).
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.finally(() => signal.removeEventListener('abort', onAbort)).then(resolve, reject);
  });
}

/** Waits `ms` (0 = not at all) or rejects with the signal's reason when it aborts first. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  if (ms <= 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
