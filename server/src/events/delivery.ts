import {
  formatEventId,
  parseEventId,
  type AgentEvent,
  type ResyncReason,
  type StreamEvent,
  type ThreadId,
} from '@tracewire/shared';
import type { EventLog, StreamHead } from './eventLog.js';

/** One item of a thread stream: the tracked id (`epoch:seq`) and the event. */
export interface StreamItem {
  id: string;
  event: StreamEvent;
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
}

type Start = { kind: 'resume'; afterSeq: number } | { kind: 'resync'; reason: ResyncReason };

/** Decides whether a requested position can be resumed exactly (all or nothing). */
function planStart(head: StreamHead, lastEventId: string | null | undefined): Start | null {
  if (lastEventId === undefined || lastEventId === null || lastEventId === '') return null;
  const pos = parseEventId(lastEventId);
  if (!pos) return { kind: 'resync', reason: 'invalid_position' };
  if (pos.epoch !== head.epoch) return { kind: 'resync', reason: 'epoch_changed' };
  if (pos.seq > head.headSeq) return { kind: 'resync', reason: 'invalid_position' };
  if (pos.seq < head.firstSeq - 1) return { kind: 'resync', reason: 'retention' };
  return { kind: 'resume', afterSeq: pos.seq };
}

const item = (event: AgentEvent): StreamItem => ({ id: formatEventId(event), event });

/**
 * A thread's events for one subscriber: subscribe to the live tail first, then backfill
 * from the log, then hand over to live, so nothing falls in between and nothing repeats.
 * A stream without a position starts with a `stream_position` marker; a position that
 * cannot be resumed exactly starts with `resync` (never a partial replay).
 */
export async function* streamThread(opts: StreamThreadOptions): AsyncGenerator<StreamItem> {
  const { events, threadId, signal } = opts;
  const pageSize = opts.pageSize ?? 500;
  const live: AgentEvent[] = [];
  let liveIndex = 0;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const unsubscribe = events.subscribe(threadId, (e) => {
    live.push(e);
    notify();
  });
  signal.addEventListener('abort', notify);
  try {
    const head = await events.head(threadId);
    let epoch = head.epoch;
    let last = head.headSeq;
    const start = planStart(head, opts.lastEventId);
    if (start === null) {
      yield {
        id: formatEventId({ epoch, seq: last }),
        event: { type: 'stream_position', threadId, epoch, headSeq: last, ts: Date.now() },
      };
    } else if (start.kind === 'resync') {
      yield resync(head, start.reason, threadId);
    } else {
      last = start.afterSeq;
      while (last < head.headSeq && !signal.aborted) {
        const page = await events.read(threadId, last, pageSize);
        if (page.length === 0) break;
        for (const e of page) {
          if (e.seq <= last) continue;
          last = e.seq;
          yield item(e);
        }
      }
    }
    while (!signal.aborted) {
      if (liveIndex >= live.length) {
        live.length = 0;
        liveIndex = 0;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const e = live[liveIndex++]!;
      if (e.epoch !== epoch) {
        // The stream was reset under us: the client's history is no longer valid.
        const h = await events.head(threadId);
        epoch = h.epoch;
        last = h.headSeq;
        yield resync(h, 'epoch_changed', threadId);
        continue;
      }
      if (e.seq <= last) continue;
      if (e.seq > last + 1) {
        // Missed live events (should not happen in-process): fill from the log in order.
        const missing = await events.read(threadId, last, e.seq - last - 1);
        for (const m of missing) {
          if (m.seq <= last) continue;
          last = m.seq;
          yield item(m);
        }
      }
      last = e.seq;
      yield item(e);
    }
  } finally {
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
