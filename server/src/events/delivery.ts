import {
  formatEventId,
  parseEventId,
  plainJsonText,
  type AgentEvent,
  type ResyncReason,
  type StreamEvent,
  type ThreadId,
} from '@tracewire/shared';
import type { EventLog, StreamHead } from './eventLog.js';
import { closeSlowConsumer, waitWritable, type FlowControl } from './flowControl.js';

/** One item of a thread stream: the tracked id (`epoch:seq`) and the event. */
export interface StreamItem {
  id: string;
  event: StreamEvent;
  /**
   * The event's exact JSON, as the event log handed it out with the event (see
   * `plainJsonText`), carried from here to the writer so nothing encodes it again; undefined
   * for events this module makes (`stream_position`, `resync`) and annotated ones.
   */
  json: string | undefined;
}

/** The item of a logged event; the one place its JSON is taken from the log. */
const itemOf = (e: AgentEvent): StreamItem => ({
  id: formatEventId(e),
  event: e,
  json: plainJsonText(e),
});

/** Hooks for metrics; all optional. */
export interface DeliveryHooks {
  onResync?(reason: ResyncReason): void;
  /** The subscriber fell behind its live buffer and is being served from the log. */
  onCatchUp?(): void;
  /** The log's listener wrote a live event straight to the sink (see `flow`). */
  onWritten?(event: AgentEvent): void;
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
  /**
   * Backpressure against the connection; none for in-process callers. When its sink writes
   * (`sink.write`, WebSocket), live events that continue the stream in order are written by
   * the log's listener while the generator waits, instead of resuming it for each: the
   * consumer then only pulls what needs the generator (backfill, resync, backpressure).
   */
  flow?: FlowControl | undefined;
  /**
   * Runs the stream's reads of the log (head, backfill pages) in the subscriber's context,
   * e.g. its trace span: the generator resumes in whatever context its consumer has.
   */
  inContext?: <T>(fn: () => T) => T;
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
 * The state of one subscriber's stream, shared by the generator and the log's listener. A
 * class with prototype methods rather than closures in the generator: tens of thousands of
 * idle subscriptions are held at once.
 */
class ThreadStream {
  readonly opts: StreamThreadOptions;
  readonly signal: AbortSignal;
  readonly flow: FlowControl | undefined;
  readonly pageSize: number;
  readonly bufferEvents: number;
  /** The position delivered so far (set from the head once it is read). */
  epoch = '';
  last = 0;
  live: AgentEvent[] = [];
  liveIndex = 0;
  overflowed = false;
  /** When the consumer last stopped pulling (suspended at a yield), or 0 while it pulls. */
  stalledSince = 0;
  closed = false;
  wake: (() => void) | null = null;

  constructor(opts: StreamThreadOptions) {
    this.opts = opts;
    this.signal = opts.signal;
    this.flow = opts.flow;
    this.pageSize = opts.pageSize ?? 500;
    this.bufferEvents = opts.bufferEvents ?? 1024;
  }

  /** Runs the stream's reads of the log in the subscriber's context (see `inContext`). */
  head(): Promise<StreamHead> {
    const { events, threadId, inContext } = this.opts;
    return inContext ? inContext(() => events.head(threadId)) : events.head(threadId);
  }

  read(after: number, limit: number): Promise<AgentEvent[]> {
    const { events, threadId, inContext } = this.opts;
    return inContext
      ? inContext(() => events.read(threadId, after, limit))
      : events.read(threadId, after, limit);
  }

  /** Resumes the generator waiting for live events, if it waits. */
  notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** The signal's abort listener (an EventListener object: no closure per subscriber). */
  handleEvent(): void {
    this.notify();
  }

  /**
   * Writes `e` from the listener when that is exactly what the generator would do next: it
   * waits for live events (so the start is done and nothing is pending), `e` continues the
   * position, and the connection is below its high-water mark. Anything else goes through
   * the generator. A write that throws leaves `e` to the generator, whose consumer reports it.
   */
  writeDirect(e: AgentEvent): boolean {
    const flow = this.flow;
    if (!flow?.sink.write || this.wake === null || this.liveIndex < this.live.length) return false;
    if (this.signal.aborted || e.epoch !== this.epoch || e.seq !== this.last + 1) return false;
    const { sink } = flow;
    if (sink.bufferedAmount() > flow.highWaterBytes) return false;
    try {
      sink.write!(formatEventId(e), e, plainJsonText(e));
    } catch {
      return false;
    }
    this.last = e.seq;
    this.opts.hooks?.onWritten?.(e);
    return true;
  }

  /** The log's live-tail listener. */
  onEvent(e: AgentEvent): void {
    if (this.overflowed || this.closed || this.writeDirect(e)) return;
    if (this.live.length - this.liveIndex >= this.bufferEvents) {
      this.overflowed = true;
      this.live = [];
      this.liveIndex = 0;
      this.opts.hooks?.onCatchUp?.();
      const flow = this.flow;
      if (
        flow &&
        this.stalledSince &&
        Date.now() - this.stalledSince > flow.slowConsumerTimeoutMs
      ) {
        this.closed = true;
        closeSlowConsumer(flow);
      }
    } else {
      this.live.push(e);
    }
    this.notify();
  }

  /** False when the connection must not be written to any more. */
  writable(): boolean | Promise<boolean> {
    const flow = this.flow;
    return (
      !flow || flow.sink.bufferedAmount() <= flow.highWaterBytes || waitWritable(flow, this.signal)
    );
  }

  /** Waits until the listener has live events (or the signal aborts). */
  waitLive(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }
}

/**
 * The position can no longer be continued exactly (the stream was reset, or the events in
 * between are no longer retained): move to the current head and say so.
 */
async function* resyncAtHead(s: ThreadStream, reason: ResyncReason): AsyncGenerator<StreamItem> {
  const h = await s.head();
  s.epoch = h.epoch;
  s.last = h.headSeq;
  s.opts.hooks?.onResync?.(reason);
  yield resync(h, reason, s.opts.threadId);
}

/** Events after `s.last` from the log, page by page, up to `until` (inclusive). */
async function* fromLog(
  s: ThreadStream,
  until = Number.POSITIVE_INFINITY,
): AsyncGenerator<StreamItem> {
  while (s.last < until && !s.signal.aborted && !s.closed) {
    const limit = Math.min(s.pageSize, until - s.last);
    const page = await s.read(s.last, limit);
    for (const e of page) {
      // `read` serves the log's current epoch: after a reset during a replay, its events
      // do not continue this subscriber's position (that would be a partial replay).
      if (e.epoch !== s.epoch) {
        yield* resyncAtHead(s, 'epoch_changed');
        return;
      }
      if (e.seq <= s.last) continue;
      const ok = s.writable();
      if (ok !== true && !(await ok)) return void (s.closed = true);
      s.last = e.seq;
      s.stalledSince = Date.now();
      yield itemOf(e);
      s.stalledSince = 0;
    }
    if (page.length < limit) return;
  }
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
  const { threadId, signal } = opts;
  const s = new ThreadStream(opts);
  const unsubscribe = opts.events.subscribe(threadId, (e) => s.onEvent(e));
  signal.addEventListener('abort', s);

  try {
    const head = await s.head();
    s.epoch = head.epoch;
    s.last = head.headSeq;

    const start = planStart(head, opts.lastEventId);
    if (start === null) {
      const { epoch, last } = s;
      yield {
        id: formatEventId({ epoch, seq: last }),
        event: { type: 'stream_position', threadId, epoch, headSeq: last, ts: Date.now() },
        json: undefined,
      };
    } else if (start.kind === 'resync') {
      opts.hooks?.onResync?.(start.reason);
      yield resync(head, start.reason, threadId);
    } else {
      s.last = start.afterSeq;
      yield* fromLog(s, head.headSeq);
    }

    while (!signal.aborted && !s.closed) {
      if (s.overflowed) {
        // Buffer live events again before reading, so nothing falls between.
        s.overflowed = false;
        yield* fromLog(s);
        continue;
      }
      if (s.liveIndex >= s.live.length) {
        s.live.length = 0;
        s.liveIndex = 0;
        await s.waitLive();
        continue;
      }
      const e = s.live[s.liveIndex++]!;
      if (e.epoch !== s.epoch) {
        yield* resyncAtHead(s, 'epoch_changed');
        continue;
      }
      if (e.seq <= s.last) continue;
      if (e.seq > s.last + 1) {
        yield* fromLog(s, e.seq - 1);
        // The replay found a reset and announced it: `e` belongs to the old epoch.
        if (e.epoch !== s.epoch) continue;
        if (s.last < e.seq - 1 && !s.closed && !signal.aborted) {
          // The missing events are no longer retained: never skip silently.
          yield* resyncAtHead(s, 'retention');
          continue;
        }
      }
      if (e.seq <= s.last) continue;
      const ok = s.writable();
      if (ok !== true && !(await ok)) break;
      s.last = e.seq;
      s.stalledSince = Date.now();
      yield itemOf(e);
      s.stalledSince = 0;
    }
  } finally {
    s.closed = true;
    signal.removeEventListener('abort', s);
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
    json: undefined,
  };
}
