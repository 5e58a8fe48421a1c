import {
  formatEventId,
  parseEventId,
  type AgentEvent,
  type ResyncReason,
  type StreamEvent,
  type ThreadId,
} from '@tracewire/shared';
import type { EventLog, StreamHead } from './eventLog.js';
import {
  closeSlowConsumer,
  waitWritable,
  type DirectWrite,
  type FlowControl,
} from './flowControl.js';

/** One item of a thread stream: the tracked id (`epoch:seq`) and the event. */
export interface StreamItem {
  id: string;
  event: StreamEvent;
}

/** Hooks for metrics; all optional. */
export interface DeliveryHooks {
  onResync?(reason: ResyncReason): void;
  /** The subscriber fell behind its live buffer and is being served from the log. */
  onCatchUp?(): void;
}

/** Options for {@link streamThread}. */
export interface StreamThreadOptions {
  events: EventLog;
  threadId: ThreadId;
  /** Resume right after this id; absent = live from the current end of the stream. */
  lastEventId?: string | null | undefined;
  signal: AbortSignal;
  /** Backfill page size. */
  pageSize?: number;
  /** Live events held per subscriber before falling back to the log (bounds memory). */
  bufferEvents?: number;
  /** Backpressure against the connection; none for in-process callers. */
  flow?: FlowControl | undefined;
  /**
   * Runs the stream's reads of the log (head, backfill pages) in the subscriber's context,
   * e.g. its trace span: the generator resumes in whatever context its consumer has.
   */
  inContext?: <T>(fn: () => T) => T;
  /**
   * Set `write` (at any time) to have live events that continue the stream in order written
   * by the log's listener while the generator waits, instead of resuming it for each: the
   * consumer then only pulls what needs the generator (backfill, resync, backpressure).
   */
  direct?: { write: DirectWrite | null };
  hooks?: DeliveryHooks;
}

type Start = { kind: 'resume'; afterSeq: number } | { kind: 'resync'; reason: ResyncReason };

/** Decides whether a requested position can be resumed exactly (all or nothing). */
export function planStart(head: StreamHead, lastEventId: string | null | undefined): Start | null {
  if (lastEventId === undefined || lastEventId === null || lastEventId === '') return null;
  const pos = parseEventId(lastEventId);
  if (!pos) return { kind: 'resync', reason: 'invalid_position' };
  if (pos.epoch !== head.epoch) return { kind: 'resync', reason: 'epoch_changed' };
  if (pos.seq > head.headSeq) return { kind: 'resync', reason: 'invalid_position' };
  if (pos.seq < head.firstSeq - 1) return { kind: 'resync', reason: 'retention' };
  return { kind: 'resume', afterSeq: pos.seq };
}

/**
 * A thread's events for one subscriber. It subscribes to the live tail first, then
 * backfills from the log, then hands over to live, so nothing falls between and nothing
 * repeats. A stream without a position starts with a `stream_position` marker; a position
 * that cannot be resumed exactly starts with `resync` (never a partial replay).
 *
 * Memory per subscriber is bounded: at most `bufferEvents` live events are held; past that
 * the buffer is dropped and the subscriber is served from the durable log until it has
 * caught up. Writes stop while the connection has more than the high-water mark unsent;
 * a connection stuck there is closed with SLOW_CONSUMER and resumes on reconnect.
 */
export async function* streamThread(opts: StreamThreadOptions): AsyncGenerator<StreamItem> {
  const { threadId, signal, flow } = opts;
  const inContext = opts.inContext ?? (<T>(fn: () => T) => fn());
  const log = opts.events;
  const events = {
    head: (id: ThreadId) => inContext(() => log.head(id)),
    read: (id: ThreadId, after: number, limit: number) =>
      inContext(() => log.read(id, after, limit)),
  };
  const pageSize = opts.pageSize ?? 500;
  const bufferEvents = opts.bufferEvents ?? 1024;
  const { direct } = opts;
  /** The position delivered so far (set from the head once it is read). */
  let epoch = '';
  let last = 0;
  let live: AgentEvent[] = [];
  let liveIndex = 0;
  let overflowed = false;
  /** When the consumer last stopped pulling (suspended at a yield), or 0 while it pulls. */
  let stalledSince = 0;
  let closed = false;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  /**
   * Writes `e` from the listener when that is exactly what the generator would do next: it
   * waits for live events (so the start is done and nothing is pending), `e` continues the
   * position, and the connection is below its high-water mark. Anything else goes through
   * the generator. A write that throws leaves `e` to the generator, whose consumer reports it.
   */
  const writeDirect = (e: AgentEvent): boolean => {
    const write = direct?.write;
    if (!write || wake === null || liveIndex < live.length || signal.aborted) return false;
    if (e.epoch !== epoch || e.seq !== last + 1) return false;
    if (flow && flow.sink.bufferedAmount() > flow.highWaterBytes) return false;
    try {
      write(formatEventId(e), e);
    } catch {
      return false;
    }
    last = e.seq;
    return true;
  };
  const unsubscribe = log.subscribe(threadId, (e) => {
    if (overflowed || closed || writeDirect(e)) return;
    if (live.length - liveIndex >= bufferEvents) {
      overflowed = true;
      live = [];
      liveIndex = 0;
      opts.hooks?.onCatchUp?.();
      if (flow && stalledSince && Date.now() - stalledSince > flow.slowConsumerTimeoutMs) {
        closed = true;
        closeSlowConsumer(flow);
      }
    } else {
      live.push(e);
    }
    notify();
  });
  signal.addEventListener('abort', notify);

  /** False when the connection must not be written to any more. */
  const writable = (): boolean | Promise<boolean> =>
    !flow || flow.sink.bufferedAmount() <= flow.highWaterBytes || waitWritable(flow, signal);

  try {
    const head = await events.head(threadId);
    epoch = head.epoch;
    last = head.headSeq;

    /**
     * The position can no longer be continued exactly (the stream was reset, or the
     * events in between are no longer retained): move to the current head and say so.
     */
    async function* resyncAtHead(reason: ResyncReason): AsyncGenerator<StreamItem> {
      const h = await events.head(threadId);
      epoch = h.epoch;
      last = h.headSeq;
      opts.hooks?.onResync?.(reason);
      yield resync(h, reason, threadId);
    }

    /** Events after `last` from the log, page by page, up to `until` (inclusive). */
    async function* fromLog(until = Number.POSITIVE_INFINITY): AsyncGenerator<StreamItem> {
      while (last < until && !signal.aborted && !closed) {
        const limit = Math.min(pageSize, until - last);
        const page = await events.read(threadId, last, limit);
        for (const e of page) {
          // `read` serves the log's current epoch: after a reset during a replay, its events
          // do not continue this subscriber's position (that would be a partial replay).
          if (e.epoch !== epoch) {
            yield* resyncAtHead('epoch_changed');
            return;
          }
          if (e.seq <= last) continue;
          const ok = writable();
          if (ok !== true && !(await ok)) return void (closed = true);
          last = e.seq;
          stalledSince = Date.now();
          yield { id: formatEventId(e), event: e };
          stalledSince = 0;
        }
        if (page.length < limit) return;
      }
    }

    const start = planStart(head, opts.lastEventId);
    if (start === null) {
      yield {
        id: formatEventId({ epoch, seq: last }),
        event: { type: 'stream_position', threadId, epoch, headSeq: last, ts: Date.now() },
      };
    } else if (start.kind === 'resync') {
      opts.hooks?.onResync?.(start.reason);
      yield resync(head, start.reason, threadId);
    } else {
      last = start.afterSeq;
      yield* fromLog(head.headSeq);
    }

    while (!signal.aborted && !closed) {
      if (overflowed) {
        // Buffer live events again before reading, so nothing falls between.
        overflowed = false;
        yield* fromLog();
        continue;
      }
      if (liveIndex >= live.length) {
        live.length = 0;
        liveIndex = 0;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const e = live[liveIndex++]!;
      if (e.epoch !== epoch) {
        yield* resyncAtHead('epoch_changed');
        continue;
      }
      if (e.seq <= last) continue;
      if (e.seq > last + 1) {
        yield* fromLog(e.seq - 1);
        // The replay found a reset and announced it: `e` belongs to the old epoch.
        if (e.epoch !== epoch) continue;
        if (last < e.seq - 1 && !closed && !signal.aborted) {
          // The missing events are no longer retained: never skip silently.
          yield* resyncAtHead('retention');
          continue;
        }
      }
      if (e.seq <= last) continue;
      const ok = writable();
      if (ok !== true && !(await ok)) break;
      last = e.seq;
      stalledSince = Date.now();
      yield { id: formatEventId(e), event: e };
      stalledSince = 0;
    }
  } finally {
    closed = true;
    signal.removeEventListener('abort', notify);
    unsubscribe();
  }
}

function resync(head: StreamHead, reason: ResyncReason, threadId: ThreadId): StreamItem {
  return {
    id: formatEventId({ epoch: head.epoch, seq: head.headSeq }),
    event: {
      type: 'resync',
      threadId,
      reason,
      epoch: head.epoch,
      firstAvailableSeq: head.firstSeq <= head.headSeq ? head.firstSeq : 0,
      headSeq: head.headSeq,
      ts: Date.now(),
    },
  };
}
