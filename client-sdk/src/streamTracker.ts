import { formatEventId, parseEventId, type StreamEvent } from '@tracewire/shared';
import { emptyStats, type RunEvent, type StreamStats, type ThreadEvent } from './types.js';

/** One frame of `agent.events` as the tRPC client delivers a tracked event. */
export interface StreamFrame {
  id?: string | undefined;
  data: StreamEvent;
}

/** What to do with a frame. */
export type TrackerStep =
  /** Hand `event` to the app. */
  | { kind: 'deliver'; event: ThreadEvent }
  /** Already delivered (same epoch, seq not past the last one): drop it. */
  | { kind: 'duplicate' }
  /** A seq was skipped (or the epoch changed without a resync): resubscribe from `resumeFrom`. */
  | { kind: 'gap'; expectedSeq: number; receivedSeq: number; resumeFrom: string }
  /** A `stream_position` marker: the position was recorded; nothing for the app. */
  | { kind: 'position' };

/** Pure dedup/gap state machine for one thread stream (no I/O, testable without a server). */
export interface StreamTracker {
  /** Decides what a frame means and advances the position when it is delivered. */
  step(frame: StreamFrame): TrackerStep;
  /** Position to resume from (`${epoch}:${seq}`), or null before the first frame. */
  readonly lastEventId: string | null;
  /** Counters (`resubscribes` is counted by the caller). */
  readonly stats: StreamStats;
}

const stripMeta = (
  event: Exclude<StreamEvent, { type: 'stream_position' | 'resync' }>,
): RunEvent => {
  if (!('_meta' in event)) return event;
  const { _meta: _ignored, ...rest } = event;
  return rest;
};

/**
 * Creates a tracker starting at `lastEventId` (null: position unknown until the first frame).
 * Rules: `stream_position` and `resync` set the position (epoch, head seq); an agent event
 * of the current epoch is delivered only when its seq is exactly last+1, dropped when ≤ last
 * and reported as a gap when it skips; an event of another epoch without a resync first is
 * a gap too (resuming from the old position makes the server answer with `resync`).
 */
export function createStreamTracker(lastEventId?: string | null): StreamTracker {
  const start = lastEventId ? parseEventId(lastEventId) : null;
  let epoch: string | null = start?.epoch ?? null;
  let lastSeq: number | null = start?.seq ?? null;
  let gapOpen = false;
  const stats = emptyStats();

  const setPosition = (e: string, seq: number) => {
    epoch = e;
    lastSeq = seq;
  };

  return {
    get lastEventId() {
      return epoch === null || lastSeq === null ? null : formatEventId({ epoch, seq: lastSeq });
    },
    stats,
    step({ data }) {
      stats.received++;
      if (data.type === 'stream_position') {
        // Only a stream opened without a position starts with a marker; never move backwards.
        if (epoch !== data.epoch || lastSeq === null || data.headSeq > lastSeq) {
          setPosition(data.epoch, data.headSeq);
        }
        return { kind: 'position' };
      }
      if (data.type === 'resync') {
        setPosition(data.epoch, data.headSeq);
        gapOpen = false;
        stats.resyncs++;
        stats.delivered++;
        return { kind: 'deliver', event: data };
      }
      if (epoch === null || lastSeq === null) {
        setPosition(data.epoch, data.seq);
        stats.delivered++;
        return { kind: 'deliver', event: stripMeta(data) };
      }
      if (data.epoch !== epoch || data.seq > lastSeq + 1) {
        stats.gapsDetected++;
        gapOpen = true;
        return {
          kind: 'gap',
          expectedSeq: lastSeq + 1,
          receivedSeq: data.seq,
          resumeFrom: formatEventId({ epoch, seq: lastSeq }),
        };
      }
      if (data.seq <= lastSeq) {
        stats.duplicatesDropped++;
        return { kind: 'duplicate' };
      }
      lastSeq = data.seq;
      if (gapOpen) {
        gapOpen = false;
        stats.gapsRepaired++;
      }
      stats.delivered++;
      return { kind: 'deliver', event: stripMeta(data) };
    },
  };
}
