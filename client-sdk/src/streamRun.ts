import { isTerminalRunStatus } from '@tracewire/shared';
import type { SendOptions } from './send.js';
import type { ThreadStream } from './threadStream.js';
import type { SendResult, ThreadEvent } from './types.js';

/** Options of `client.streamRun()`. */
export interface StreamRunOptions {
  /** Idempotency key for the `chat.send`; generated when absent. */
  clientMessageId?: string | undefined;
  /** Ends the stream (cleanly) and aborts the send. Does NOT cancel the run: use `chat.cancel`. */
  signal?: AbortSignal | undefined;
}

/**
 * One run's events: iterate to get them (a `resync` is passed through too, since events may
 * have been lost), ending after the run's terminal event. `sent` resolves with the message
 * and run as soon as `chat.send` returns.
 */
export interface RunStream extends AsyncIterable<ThreadEvent> {
  readonly sent: Promise<SendResult>;
  /** Delivery counters of the underlying thread stream. */
  readonly stats: ThreadStream['stats'];
}

/** What {@link createRunStream} needs. */
export interface RunStreamDeps {
  openStream(signal: AbortSignal | undefined): ThreadStream;
  send(content: string, opts: SendOptions): Promise<SendResult>;
}

/**
 * Subscribes to the thread FIRST and waits for its position (so no event of the run can
 * fall before the subscription), then sends, then yields the events of that run only.
 */
export function createRunStream(
  deps: RunStreamDeps,
  content: string,
  opts: StreamRunOptions = {},
): RunStream {
  const stream = deps.openStream(opts.signal);
  const sent = (async () => {
    const positioned = await stream.ready;
    if (!positioned) {
      // The stream ended before it had a position: its iteration reports why.
      throw new Error('agent.events ended before the run could be sent');
    }
    return deps.send(content, {
      ...(opts.clientMessageId ? { clientMessageId: opts.clientMessageId } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  })();
  // Handled here so an app that only iterates gets no unhandled rejection.
  sent.catch(() => undefined);

  async function* iterate(): AsyncGenerator<ThreadEvent> {
    try {
      let result: SendResult;
      try {
        result = await sent;
      } catch (e) {
        // Prefer the stream's own error (e.g. NOT_FOUND) when it has one.
        await stream.next();
        throw e;
      }
      const runId = result.run.id;
      // A retried clientMessageId may return a run that already ended before we subscribed.
      if (isTerminalRunStatus(result.run.status)) return;
      for await (const event of stream) {
        if (event.type === 'resync') {
          yield event;
          continue;
        }
        if (event.runId !== runId) continue;
        yield event;
        if (event.type === 'agent_completed' || event.type === 'agent_error') return;
      }
    } finally {
      stream.close();
    }
  }

  return { sent, stats: stream.stats, [Symbol.asyncIterator]: iterate };
}
