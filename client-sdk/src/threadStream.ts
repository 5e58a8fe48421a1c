import type { AppErrorCode } from '@tracewire/shared';
import { getConnectionRefusal, isConnectionUnavailable, isTracewireError } from './errors.js';
import { createStreamTracker, type StreamFrame } from './streamTracker.js';
import type { StreamStats, ThreadEvent } from './types.js';

/** Callbacks of one underlying subscription. */
export interface FrameObserver {
  onData(frame: StreamFrame): void;
  onError(error: unknown): void;
  onComplete(): void;
}

/** What a thread stream needs from the client (kept abstract so it works on any transport). */
export interface ThreadStreamDeps {
  /** Opens `agent.events` once; the stream calls it again to resubscribe. */
  subscribe(
    input: { threadId: string; lastEventId?: string },
    observer: FrameObserver,
  ): { unsubscribe(): void };
  /** Delay before the n-th consecutive resubscribe (0-based). */
  backoff(attempt: number): number;
  /** Aborted when the client closes. */
  clientSignal: AbortSignal;
  /**
   * End the stream with the error when a subscription fails because the server could not be
   * reached before the stream had a position (`streamRun`: its send waits for one). Otherwise
   * such failures are retried like any other.
   */
  failFastUnavailable?: boolean;
  /** Called once when the stream ends, with its final counters. */
  onEnd?(stats: StreamStats): void;
}

/** Options of `client.events()`. */
export interface EventsOptions {
  /** Resume right after this event id (from a previous stream or `chat.history`). */
  lastEventId?: string | null | undefined;
  /** Ends the iteration (cleanly, without throwing) and unsubscribes. */
  signal?: AbortSignal | undefined;
}

/**
 * A live, resumable stream of one thread's events. Subscribes as soon as it is created;
 * iterate it once. Ends when its signal aborts, the client closes, or the loop breaks.
 */
export interface ThreadStream extends AsyncIterableIterator<ThreadEvent> {
  /** Position of the last event handed to the app (or marker seen): resume from here. */
  readonly lastEventId: string | null;
  /** This stream's delivery counters. */
  readonly stats: Readonly<StreamStats>;
  /**
   * Resolves true once the stream has a position (its first frame: the `stream_position`
   * marker, a `resync` or an event), false if it ended first. Never rejects.
   */
  readonly ready: Promise<boolean>;
  /** Unsubscribes and ends the iteration. */
  close(): void;
}

/** Consecutive failed or server-ended subscriptions before the error reaches the app. */
export const MAX_CONSECUTIVE_FAILURES = 10;

/** Errors that resubscribing cannot fix. */
const FATAL_CODES: ReadonlySet<AppErrorCode> = new Set<AppErrorCode>([
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
]);
/** The server refused the call, or the WebSocket for good (bad or expired static token, protocol error). */
const isFatal = (e: unknown) =>
  isTracewireError(e) ? FATAL_CODES.has(e.data.appCode) : getConnectionRefusal(e) !== null;

/**
 * Opens a thread stream with the SDK guarantees on top of tRPC's own resume: duplicates
 * dropped by seq, gaps repaired by resubscribing from the last good event id, `resync`
 * surfaced, `stream_position` hidden, `_meta` stripped, server-ended or failed
 * subscriptions reopened with backoff.
 */
export function openThreadStream(
  deps: ThreadStreamDeps,
  threadId: string,
  opts: EventsOptions = {},
): ThreadStream {
  const tracker = createStreamTracker(opts.lastEventId);
  const stats = tracker.stats;
  /** Events received and not yet handed to the app, from `head` on (handed-out slots cleared). */
  const queue: (ThreadEvent | undefined)[] = [];
  let head = 0;
  let done = false;
  let failure: { error: unknown } | null = null;
  let waiter: (() => void) | null = null;
  let sub: { unsubscribe(): void } | null = null;
  let generation = 0;
  let failures = 0;
  let sameGapRetries = 0;
  let lastGapFrom: string | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let positioned = false;
  let resolveReady!: (v: boolean) => void;
  const ready = new Promise<boolean>((r) => (resolveReady = r));

  const wake = () => {
    const w = waiter;
    waiter = null;
    w?.();
  };
  const stopping = () => done || opts.signal?.aborted === true || deps.clientSignal.aborted;

  const finish = (error?: { error: unknown }) => {
    if (done) return;
    done = true;
    if (error) failure = error;
    generation++;
    clearTimeout(retryTimer);
    const s = sub;
    sub = null;
    s?.unsubscribe();
    opts.signal?.removeEventListener('abort', onAbort);
    deps.clientSignal.removeEventListener('abort', onAbort);
    resolveReady(false);
    deps.onEnd?.(stats);
    wake();
  };
  const onAbort = () => finish();

  const resubscribe = (delayMs: number) => {
    generation++;
    const s = sub;
    sub = null;
    s?.unsubscribe();
    stats.resubscribes++;
    clearTimeout(retryTimer);
    if (delayMs <= 0) connect();
    else retryTimer = setTimeout(connect, delayMs);
  };

  const onFrame = (frame: StreamFrame) => {
    const step = tracker.step(frame);
    switch (step.kind) {
      case 'deliver':
        failures = 0;
        sameGapRetries = 0;
        queue.push(step.event);
        positioned = true;
        resolveReady(true);
        wake();
        return;
      case 'position':
        failures = 0;
        positioned = true;
        resolveReady(true);
        return;
      case 'duplicate':
        return;
      case 'gap': {
        // The same gap again without progress: back off instead of looping hot.
        sameGapRetries = lastGapFrom === step.resumeFrom ? sameGapRetries + 1 : 0;
        lastGapFrom = step.resumeFrom;
        resubscribe(sameGapRetries === 0 ? 0 : deps.backoff(sameGapRetries - 1));
        return;
      }
    }
  };

  const onEnded = (error: { error: unknown } | null) => {
    if (stopping()) return finish();
    if (error && isFatal(error.error)) return finish(error);
    if (error && deps.failFastUnavailable && !positioned && isConnectionUnavailable(error.error))
      return finish(error);
    failures++;
    if (failures > MAX_CONSECUTIVE_FAILURES) {
      return finish(error ?? { error: new Error('agent.events ended repeatedly') });
    }
    resubscribe(deps.backoff(failures - 1));
  };

  function connect() {
    if (stopping()) return finish();
    const gen = ++generation;
    const lastEventId = tracker.lastEventId;
    sub = deps.subscribe(lastEventId ? { threadId, lastEventId } : { threadId }, {
      onData: (frame) => {
        if (gen === generation && !done) onFrame(frame);
      },
      onError: (error) => {
        if (gen === generation && !done) onEnded({ error });
      },
      onComplete: () => {
        if (gen === generation && !done) onEnded(null);
      },
    });
  }

  opts.signal?.addEventListener('abort', onAbort, { once: true });
  deps.clientSignal.addEventListener('abort', onAbort, { once: true });
  connect();

  const stream: ThreadStream = {
    get lastEventId() {
      return tracker.lastEventId;
    },
    stats,
    ready,
    close: () => finish(),
    async next(): Promise<IteratorResult<ThreadEvent>> {
      for (;;) {
        if (head < queue.length) {
          // Keeps no event the app has taken: kept events outlive young-space collections,
          // and a thousand streams holding up to 1,024 each grew the heap by hundreds of MB.
          const value = queue[head]!;
          queue[head++] = undefined;
          if (head === queue.length) {
            queue.length = 0;
            head = 0;
          } else if (head > 1024 && head * 2 > queue.length) {
            queue.splice(0, head);
            head = 0;
          }
          return { value, done: false };
        }
        if (done) {
          if (failure) {
            const { error } = failure;
            failure = null;
            throw error;
          }
          return { value: undefined, done: true };
        }
        await new Promise<void>((r) => (waiter = r));
      }
    },
    return(): Promise<IteratorResult<ThreadEvent>> {
      finish();
      queue.length = 0;
      head = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
