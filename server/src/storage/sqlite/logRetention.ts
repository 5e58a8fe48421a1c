import { AppError } from '@tracewire/shared';
import type Database from 'better-sqlite3';
import type { LogStatements } from './logStatements.js';
import type { StreamPositions } from './streamPositions.js';

/** How much history each thread keeps. Unset limits keep everything. */
export interface RetentionOptions {
  /** Keep at most this many events per thread (oldest go first). */
  maxEventsPerThread?: number;
  /** Drop events older than this (by their `ts`). */
  maxAgeMs?: number;
}

/** Streams examined per prune transaction (one page per macrotask on the timer). */
const PRUNE_PAGE = 200;

/** Checks the limits; a bad one is BAD_REQUEST. */
export function checkRetention(r: RetentionOptions | undefined): RetentionOptions {
  const out: RetentionOptions = {};
  if (r?.maxEventsPerThread !== undefined) {
    if (!Number.isSafeInteger(r.maxEventsPerThread) || r.maxEventsPerThread < 1)
      throw new AppError('BAD_REQUEST', 'retention.maxEventsPerThread must be a positive integer');
    out.maxEventsPerThread = r.maxEventsPerThread;
  }
  if (r?.maxAgeMs !== undefined) {
    if (!Number.isFinite(r.maxAgeMs) || r.maxAgeMs <= 0)
      throw new AppError('BAD_REQUEST', 'retention.maxAgeMs must be a positive number');
    out.maxAgeMs = r.maxAgeMs;
  }
  return out;
}

/**
 * The event log's retention: trims a stream after each append (inside the batch) and prunes
 * idle streams by age in pages. Only ever cuts a prefix of a stream (never a hole).
 */
export class LogRetention {
  readonly options: RetentionOptions;
  readonly #sqlite: Database.Database;
  readonly #stmt: LogStatements;
  readonly #positions: StreamPositions;

  constructor(opts: {
    options: RetentionOptions | undefined;
    sqlite: Database.Database;
    stmt: LogStatements;
    positions: StreamPositions;
  }) {
    this.options = checkRetention(opts.options);
    this.#sqlite = opts.sqlite;
    this.#stmt = opts.stmt;
    this.#positions = opts.positions;
  }

  /** True when some limit is set (otherwise appends skip retention entirely). */
  get active(): boolean {
    return this.options.maxEventsPerThread !== undefined || this.options.maxAgeMs !== undefined;
  }

  /** Applies the limits to one stream after an append (inside the batch transaction). */
  retain(threadId: string, now: number): void {
    const state = this.#positions.peek(threadId);
    const { maxEventsPerThread, maxAgeMs } = this.options;
    if (!state) return;
    let first = state.firstSeq;
    if (maxEventsPerThread !== undefined && state.headSeq - maxEventsPerThread + 1 > first) {
      first = state.headSeq - maxEventsPerThread + 1;
      state.oldestTs = undefined;
    }
    if (maxAgeMs !== undefined) {
      const cutoff = now - maxAgeMs;
      if (state.oldestTs === undefined) {
        const row = this.#stmt.tsAt.get(state.id, first) as { ts: number } | undefined;
        state.oldestTs = row?.ts;
      }
      if (state.oldestTs !== undefined && state.oldestTs < cutoff) {
        const row = this.#stmt.firstSince.get(state.id, first, cutoff) as {
          seq: number | null;
        };
        first = row.seq ?? state.headSeq + 1;
      }
    }
    if (first !== state.firstSeq) this.#setFirst(state.id, threadId, first);
  }

  /**
   * Trims the expired streams among the next {@link PRUNE_PAGE} after `after` (by thread id),
   * in one transaction; `next` is where the following page starts (null at the end).
   */
  prunePage(now: number, after: string): { trimmed: number; next: string | null } {
    const cutoff = now - (this.options.maxAgeMs ?? Number.POSITIVE_INFINITY);
    // Immediate: it reads before it writes (see LogBatch.flush).
    return this.#sqlite
      .transaction(() => {
        const page = this.#stmt.streamAges.all(cutoff, after, PRUNE_PAGE) as {
          id: number;
          thread_id: string;
          first_seq: number;
          expired: number;
        }[];
        let trimmed = 0;
        for (const s of page) {
          if (!s.expired) continue;
          const row = this.#stmt.firstSince.get(s.id, s.first_seq, cutoff) as {
            seq: number | null;
          };
          const first = row.seq ?? this.#positions.get(s.thread_id).committedSeq + 1;
          this.#setFirst(s.id, s.thread_id, first);
          trimmed++;
        }
        return {
          trimmed,
          next: page.length < PRUNE_PAGE ? null : page[page.length - 1]!.thread_id,
        };
      })
      .immediate();
  }

  /** Cuts the stream's prefix below `first` (never a hole in the middle). */
  #setFirst(streamId: number, threadId: string, first: number): void {
    this.#stmt.deleteBefore.run(streamId, first);
    this.#stmt.setFirst.run(first, first - 1, streamId);
    const state = this.#positions.peek(threadId);
    if (state) {
      state.firstSeq = first;
      state.oldestTs = undefined;
    }
  }
}
