import { createEpoch, type AgentEvent } from '@tracewire/shared';
import { encodeEvent, type PreparedDraft } from './eventCodec.js';
import type { LogStatements } from './logStatements.js';

/** In-memory copy of a stream row; the log is the only writer of its streams. */
export interface StreamState {
  /** `streams.id`: the key of the stream's events. */
  id: number;
  epoch: string;
  /** Last seq handed out (may still be pending). */
  headSeq: number;
  /** Last seq committed and notified: what `head` reports. */
  committedSeq: number;
  firstSeq: number;
  /** `ts` of the event at `firstSeq` when known (saves a read per batch). */
  oldestTs: number | undefined;
}

/** Events given positions, with the rows that store them. */
export interface NumberedEvents {
  events: AgentEvent[];
  rows: unknown[][];
}

type StreamRow = { id: number; epoch: string; head_seq: number; first_seq: number };

/**
 * The positions of the streams in use, cached so that numbering an event reads nothing: the
 * log is the only writer of its streams. Bounded: the oldest entries are forgotten (and
 * reloaded from the file when used again) once `maxCached` is passed.
 */
export class StreamPositions {
  readonly #stmt: LogStatements;
  readonly #maxCached: number;
  readonly #streams = new Map<string, StreamState>();

  constructor(stmt: LogStatements, maxCached: number) {
    this.#stmt = stmt;
    this.#maxCached = maxCached;
  }

  /** The stream's position, loading or creating its row (fresh epoch) on first use. */
  get(threadId: string): StreamState {
    const cached = this.#streams.get(threadId);
    if (cached) return cached;
    let row = this.#stmt.selectStream.get(threadId) as StreamRow | undefined;
    if (!row) {
      this.#stmt.insertStream.run(threadId, createEpoch());
      row = this.#stmt.selectStream.get(threadId) as StreamRow;
    }
    const last = this.#stmt.lastStored.get(row.id) as { seq: number; epoch: string } | undefined;
    const head = last?.epoch === row.epoch ? Math.max(row.head_seq, last.seq) : row.head_seq;
    const state: StreamState = {
      id: row.id,
      epoch: row.epoch,
      headSeq: head,
      committedSeq: head,
      firstSeq: row.first_seq,
      oldestTs: undefined,
    };
    this.#streams.set(threadId, state);
    return state;
  }

  /** The cached position, if any (no read). */
  peek(threadId: string): StreamState | undefined {
    return this.#streams.get(threadId);
  }

  /** Forgets a stream's position: positions handed out were not stored, or its row changed. */
  forget(threadId: string): void {
    this.#streams.delete(threadId);
  }

  /**
   * Takes the next positions of the stream for `prepared`: the events and their rows. An
   * empty call takes none (nor creates the stream).
   */
  number(threadId: string, prepared: readonly PreparedDraft[]): NumberedEvents {
    const events: AgentEvent[] = [];
    const rows: unknown[][] = [];
    if (prepared.length === 0) return { events, rows };
    const state = this.get(threadId);
    for (const p of prepared) {
      const seq = ++state.headSeq;
      // Stored events are immutable; plain ones are marked as such and keep their wire JSON
      // (what is stored), so nothing walks or encodes them again for each subscriber.
      const { event, data, meta } = encodeEvent(p, seq, state.epoch);
      events.push(event);
      rows.push([state.id, seq, state.epoch, p.draft.type, p.draft.runId, p.draft.ts, data, meta]);
    }
    return { events, rows };
  }

  /** Marks events as committed: `head` reports them from now on. */
  commit(threadId: string, events: readonly AgentEvent[]): void {
    const state = this.#streams.get(threadId);
    const last = events[events.length - 1];
    if (state && last) state.committedSeq = last.seq;
  }

  /** Bounds memory: forgets the oldest stream positions (call when nothing is pending). */
  evict(): void {
    if (this.#streams.size <= this.#maxCached) return;
    let excess = this.#streams.size - Math.floor(this.#maxCached * 0.9);
    for (const key of this.#streams.keys()) {
      if (excess-- <= 0) break;
      this.#streams.delete(key);
    }
  }

  /** Forgets every position (on close). */
  clear(): void {
    this.#streams.clear();
  }
}
