import { createClientMessageId, type ClientMessageId } from '@tracewire/shared';
import { sleep } from './backoff.js';
import { isConnectionError, isTracewireError } from './errors.js';
import type { SendResult } from './types.js';

/** Options of `client.send()`. */
export interface SendOptions {
  /** Idempotency key; generated when absent. Reuse it to retry a send yourself. */
  clientMessageId?: string | undefined;
  /** Aborts the call and any pending retry. */
  signal?: AbortSignal | undefined;
  /** Attempts in total (first try included). Default 5. */
  maxAttempts?: number | undefined;
}

/** Default number of attempts for `send`. */
export const DEFAULT_SEND_ATTEMPTS = 5;

/** What {@link sendWithRetry} needs. */
export interface SendDeps {
  mutate(
    input: { threadId: string; content: string; clientMessageId: string },
    opts: { signal?: AbortSignal },
  ): Promise<SendResult>;
  backoff(attempt: number): number;
  isClosed(): boolean;
}

/**
 * True when a failed `chat.send` may simply be sent again with the same `clientMessageId`:
 * the connection dropped under it, or the server said UNAVAILABLE (e.g. restarting).
 */
export function isRetryableSendError(e: unknown): boolean {
  return isConnectionError(e) || (isTracewireError(e) && e.data.appCode === 'UNAVAILABLE');
}

/**
 * `chat.send` with a generated `clientMessageId`, retried with the SAME id when the
 * connection dropped (tRPC fails in-flight WS mutations on close and never retries them):
 * the server's idempotency makes the retry return the first message and run.
 */
export async function sendWithRetry(
  deps: SendDeps,
  input: { threadId: string; content: string },
  opts: SendOptions = {},
): Promise<SendResult & { clientMessageId: ClientMessageId }> {
  const clientMessageId = (opts.clientMessageId ?? createClientMessageId()) as ClientMessageId;
  const maxAttempts = Math.max(1, opts.maxAttempts ?? DEFAULT_SEND_ATTEMPTS);
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await deps.mutate(
        { ...input, clientMessageId },
        opts.signal ? { signal: opts.signal } : {},
      );
      return { ...result, clientMessageId };
    } catch (e) {
      const last = attempt + 1 >= maxAttempts;
      if (last || deps.isClosed() || opts.signal?.aborted || !isRetryableSendError(e)) throw e;
      await sleep(deps.backoff(attempt), opts.signal);
    }
  }
}
