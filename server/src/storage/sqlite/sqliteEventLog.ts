import { AppError, createEpoch, type AgentEvent, type ThreadId } from '@tracewire/shared';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type {
  AgentEventDraft,
  AppendCallback,
  EventListener,
  EventLog,
  StreamHead,
} from '../../events/eventLog.js';
import type { SqliteDatabase } from './database.js';
import {
  decodeEvent,
  encodeEvent,
  prepareDraft,
  type EventRow,
  type PreparedDraft,
} from './eventCodec.js';
import { toAppError } from './sqliteErrors.js';

/** How much history each thread keeps. Unset limits keep everything. */
export interface RetentionOptions {
  /** Keep at most this many events per thread (oldest go first). */
  maxEventsPerThread?: number;
  /** Drop events older than this (by their `ts`). */
  maxAgeMs?: number;
}

/** Options for {@link SqliteEventLog}. */
export interface SqliteEventLogOptions {
  database: SqliteDatabase;
  retention?: RetentionOptions | undefined;
  logger?: Logger | undefined;
  /** Called once by `close()`; the owner closes the shared file when all users are done. */
  onClose?: () => void;
  /** How often the age-based prune runs. @default maxAgeMs / 4, between 1 s and 60 s */
  pruneIntervalMs?: number;
  /** Stream positions kept in memory (oldest evicted first). @default 10000 */
  maxCachedStreams?: number;
  /**
   * Longest an accepted event waits for its commit while appends keep arriving in the same
   * event-loop turn: an append that finds the batch this old commits it at once. Without a
   * bound, a busy turn (many timers due) holds every event of the turn until its end.
   * @default 2
   */
  maxBatchDelayMs?: number;
}

/** In-memory copy of a stream row; the log is the only writer of its streams. */
interface StreamState {
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

interface PendingAppend {
  threadId: string;
  events: AgentEvent[];
  rows: unknown[][];
  done: AppendCallback;
}

const NONE: readonly AgentEvent[] = Object.freeze([]);

interface Subscription {
  listener: EventListener;
  active: boolean;
}

const SQL = {
  selectStream: 'select id, epoch, head_seq, first_seq from streams where thread_id = ?',
  insertStream:
    'insert into streams (thread_id, epoch, head_seq, first_seq) values (?, ?, 0, 1) on conflict (thread_id) do nothing',
  insertEvent:
    'insert into events (stream, seq, epoch, type, run_id, ts, data, data_meta) values (?, ?, ?, ?, ?, ?, ?, ?)',
  // The last seq stored in the current epoch: with `streams.head_seq`, the stream's head.
  lastStored: 'select seq, epoch from events where stream = ? order by seq desc limit 1',
  // Records the head with the new first seq: once a prefix is deleted (possibly every event),
  // the events table alone no longer tells where the stream ended.
  setFirst: 'update streams set first_seq = ?, head_seq = max(head_seq, ?) where id = ?',
  deleteBefore: 'delete from events where stream = ? and seq < ?',
  tsAt: 'select ts from events where stream = ? and seq = ?',
  firstSince: 'select min(seq) as seq from events where stream = ? and seq >= ? and ts >= ?',
  read: `select e.data, e.data_meta
    from streams s join events e on e.stream = s.id and e.epoch = s.epoch
    where s.thread_id = ? and e.seq > ? order by e.seq limit ?`,
  // One page of streams (by thread id) with whether their first event is older than a cutoff.
  streamAges: `select s.id, s.thread_id, s.first_seq, e.ts < ? as expired from streams s
    join events e on e.stream = s.id and e.seq = s.first_seq
    where s.thread_id > ? order by s.thread_id limit ?`,
  deleteAll: 'delete from events where stream = (select id from streams where thread_id = ?)',
  resetStream: `insert into streams (thread_id, epoch, head_seq, first_seq) values (?, ?, 0, 1)
    on conflict (thread_id) do update set epoch = excluded.epoch, head_seq = 0, first_seq = 1`,
} as const;

// Captured at load so that tests using fake timers do not stall the log's writes.
const defer: (fn: () => void) => void = globalThis.setImmediate.bind(globalThis);

/** Pending events that force a synchronous flush (bounds memory and transaction size). */
const MAX_PENDING_EVENTS = 4096;

/** Streams examined per prune transaction (one page per macrotask on the timer). */
const PRUNE_PAGE = 200;

type Statements = { [K in keyof typeof SQL]: Database.Statement<unknown[]> };

function checkRetention(r: RetentionOptions | undefined): RetentionOptions {
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
 * The embedded {@link EventLog} on SQLite. `append` assigns positions synchronously (so
 * concurrent callers keep their call order), appends issued in the same event-loop turn are
 * written in one transaction (earlier once the batch is `maxBatchDelayMs` old), and listeners
 * run after the commit, in seq order. Raw prepared statements keep the hot path free of query
 * building and per-event reads.
 */
export class SqliteEventLog implements EventLog {
  readonly #sqlite: Database.Database;
  readonly #stmt: Statements;
  readonly #writeBatch: (batch: PendingAppend[]) => void;
  readonly #retention: RetentionOptions;
  readonly #logger: Logger | undefined;
  readonly #onClose: (() => void) | undefined;
  readonly #maxCached: number;
  readonly #streams = new Map<string, StreamState>();
  readonly #listeners = new Map<string, Set<Subscription>>();
  #pending: PendingAppend[] = [];
  #pendingEvents = 0;
  /** `performance.now()` of the batch's first append. */
  #pendingSince = 0;
  readonly #maxBatchDelayMs: number;
  #scheduled = false;
  #notifying = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #pruning = false;

  constructor(opts: SqliteEventLogOptions) {
    this.#sqlite = opts.database.sqlite;
    this.#retention = checkRetention(opts.retention);
    this.#logger = opts.logger;
    this.#onClose = opts.onClose;
    this.#maxCached = opts.maxCachedStreams ?? 10_000;
    this.#maxBatchDelayMs = opts.maxBatchDelayMs ?? 2;
    this.#stmt = Object.fromEntries(
      Object.entries(SQL).map(([k, sql]) => [k, this.#sqlite.prepare(sql)]),
    ) as Statements;
    this.#writeBatch = this.#sqlite.transaction((batch: PendingAppend[]) => this.#write(batch));
    const maxAge = this.#retention.maxAgeMs;
    if (maxAge !== undefined) {
      const every = opts.pruneIntervalMs ?? Math.min(Math.max(maxAge / 4, 1000), 60_000);
      this.#timer = setInterval(() => {
        this.#pruneInPages().catch((err: unknown) =>
          this.#logger?.error({ err }, 'event log prune failed'),
        );
      }, every);
      this.#timer.unref();
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'event log is closed');
  }

  append(threadId: ThreadId, drafts: readonly AgentEventDraft[]): Promise<AgentEvent[]> {
    return new Promise((resolve, reject) => {
      this.enqueue(threadId, drafts, (err, stored) =>
        err ? reject(err) : resolve(stored as AgentEvent[]),
      );
    });
  }

  enqueue(threadId: ThreadId, drafts: readonly AgentEventDraft[], done: AppendCallback): void {
    let numbered: { events: AgentEvent[]; rows: unknown[][] };
    try {
      this.#assertOpen();
      // Checked (and serialized when not plain) before taking positions, so a bad payload
      // fails only this call.
      const prepared: PreparedDraft[] = [];
      for (const d of drafts) prepared.push(prepareDraft(d, threadId));
      numbered = this.#number(threadId, prepared);
    } catch (err) {
      throw toAppError(err);
    }
    const { events, rows } = numbered;
    this.#pending.push({ threadId, events, rows, done });
    const now = performance.now();
    if (this.#pendingEvents === 0) this.#pendingSince = now;
    this.#pendingEvents += events.length;
    if (
      this.#pendingEvents >= MAX_PENDING_EVENTS ||
      now - this.#pendingSince >= this.#maxBatchDelayMs
    )
      this.#flush();
    else this.#schedule();
  }

  /**
   * Takes the next positions of the stream for `prepared`: the events and their rows. An
   * empty call takes none (nor creates the stream), but is still reported in turn.
   */
  #number(
    threadId: string,
    prepared: readonly PreparedDraft[],
  ): { events: AgentEvent[]; rows: unknown[][] } {
    const events: AgentEvent[] = [];
    const rows: unknown[][] = [];
    if (prepared.length === 0) return { events, rows };
    const state = this.#state(threadId);
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

  /**
   * Committed events only: pending appends are not flushed here (a reconnect storm would
   * otherwise commit once per subscriber). A subscriber sees them through its listener,
   * which is registered before it reads.
   */
  read(threadId: ThreadId, afterSeq: number, limit: number): Promise<AgentEvent[]> {
    try {
      this.#assertOpen();
      if (!(limit >= 1)) return Promise.resolve([]);
      const rows = this.#stmt.read.all(
        threadId,
        Math.floor(afterSeq),
        Math.floor(limit),
      ) as EventRow[];
      return Promise.resolve(rows.map(decodeEvent));
    } catch (err) {
      return Promise.reject(toAppError(err));
    }
  }

  /**
   * The committed position, without forcing a commit: events still pending reach a
   * subscriber through its listener (registered first), so head and live tail meet exactly.
   */
  head(threadId: ThreadId): Promise<StreamHead> {
    try {
      this.#assertOpen();
      const s = this.#state(threadId);
      return Promise.resolve({ epoch: s.epoch, headSeq: s.committedSeq, firstSeq: s.firstSeq });
    } catch (err) {
      return Promise.reject(toAppError(err));
    }
  }

  subscribe(threadId: ThreadId, listener: EventListener): () => void {
    this.#assertOpen();
    const sub: Subscription = { listener, active: true };
    let set = this.#listeners.get(threadId);
    if (!set) {
      set = new Set();
      this.#listeners.set(threadId, set);
    }
    set.add(sub);
    return () => {
      sub.active = false;
      const current = this.#listeners.get(threadId);
      if (!current) return;
      current.delete(sub);
      if (current.size === 0) this.#listeners.delete(threadId);
    };
  }

  /**
   * Drops the thread's history and starts a new epoch (seq restarts after 0). Clients
   * holding a position of the old epoch get `resync`. Not on {@link EventLog}: tests and
   * operators use it to exercise and repair the resync path.
   */
  resetStream(threadId: ThreadId): Promise<StreamHead> {
    try {
      this.#assertOpen();
      this.#flush();
      const epoch = createEpoch();
      this.#sqlite.transaction(() => {
        this.#stmt.deleteAll.run(threadId);
        this.#stmt.resetStream.run(threadId, epoch);
      })();
      // Reloaded: the row (and its id) may be new.
      this.#streams.delete(threadId);
      const s = this.#state(threadId);
      return Promise.resolve({ epoch: s.epoch, headSeq: s.headSeq, firstSeq: s.firstSeq });
    } catch (err) {
      return Promise.reject(toAppError(err));
    }
  }

  /**
   * Deletes events older than `retention.maxAgeMs` in every thread (a timer calls it too, a
   * page of streams per macrotask). Returns the number of threads trimmed. Pruning only ever
   * cuts a prefix of a stream.
   */
  prune(now = Date.now()): number {
    this.#assertOpen();
    if (this.#retention.maxAgeMs === undefined) return 0;
    this.#flush();
    let trimmed = 0;
    for (let page = this.#prunePage(now, ''); ; page = this.#prunePage(now, page.next)) {
      trimmed += page.trimmed;
      if (page.next === null) return trimmed;
    }
  }

  /** The timer's prune: one page per macrotask, so thousands of streams never stall the loop. */
  async #pruneInPages(): Promise<void> {
    if (this.#pruning || this.#retention.maxAgeMs === undefined) return;
    this.#pruning = true;
    const now = Date.now();
    try {
      for (let after: string | null = ''; after !== null && !this.#closed;) {
        this.#flush();
        after = this.#prunePage(now, after).next;
        await new Promise((resolve) => defer(() => resolve(undefined)));
      }
    } finally {
      this.#pruning = false;
    }
  }

  /** Trims the expired streams among the next {@link PRUNE_PAGE} after `after`, in one transaction. */
  #prunePage(now: number, after: string): { trimmed: number; next: string | null } {
    const cutoff = now - (this.#retention.maxAgeMs ?? Number.POSITIVE_INFINITY);
    return this.#sqlite.transaction(() => {
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
        const first = row.seq ?? this.#state(s.thread_id).committedSeq + 1;
        this.#setFirst(s.id, s.thread_id, first);
        trimmed++;
      }
      return { trimmed, next: page.length < PRUNE_PAGE ? null : page[page.length - 1]!.thread_id };
    })();
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    try {
      this.#flush();
    } finally {
      this.#closed = true;
      if (this.#timer) clearInterval(this.#timer);
      this.#listeners.clear();
      this.#streams.clear();
      this.#onClose?.();
    }
    return Promise.resolve();
  }

  /** The stream's position, loading or creating its row (fresh epoch) on first use. */
  #state(threadId: string): StreamState {
    const cached = this.#streams.get(threadId);
    if (cached) return cached;
    type StreamRow = { id: number; epoch: string; head_seq: number; first_seq: number };
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

  /**
   * Batches everything appended until the event loop's check phase into one transaction:
   * appends from many timers or sockets in the same loop turn share a commit (`append`
   * commits sooner once the batch is `maxBatchDelayMs` old).
   */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    defer(() => {
      this.#scheduled = false;
      if (!this.#closed) this.#flush();
    });
  }

  /**
   * Writes everything pending in one transaction, then notifies the listeners and reports
   * each append, in order.
   */
  #flush(): void {
    // A listener that appends re-entrantly must not get its events delivered before the rest
    // of the current batch: the scheduled flush writes them afterwards.
    if (this.#notifying) return;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    this.#pendingEvents = 0;
    try {
      this.#writeBatch(batch);
    } catch (err) {
      // Positions handed out for this batch were never stored: forget them.
      for (const item of batch) this.#streams.delete(item.threadId);
      const error = toAppError(err);
      this.#logger?.error({ err }, 'event log append failed');
      this.#report(batch, error);
      return;
    }
    for (const item of batch) {
      const state = this.#streams.get(item.threadId);
      const last = item.events[item.events.length - 1];
      if (state && last) state.committedSeq = last.seq;
    }
    this.#evictCache();
    this.#notifying = true;
    try {
      for (const item of batch) this.#notify(item);
    } finally {
      this.#notifying = false;
    }
    this.#report(batch, null);
    if (this.#pending.length > 0) this.#schedule();
  }

  /**
   * Reports each append of a batch, in order, in one microtask: never within the `enqueue`
   * call that flushed it (a batch old enough commits within the call). A callback that throws
   * does not keep the others from theirs.
   */
  #report(batch: readonly PendingAppend[], err: AppError | null): void {
    queueMicrotask(() => {
      for (const item of batch) {
        try {
          item.done(err, err ? NONE : item.events);
        } catch (thrown) {
          this.#logger?.error({ err: thrown, threadId: item.threadId }, 'append callback threw');
        }
      }
    });
  }

  /**
   * The body of the batch transaction: the events only. The head is not rewritten per
   * append (that doubled the pages each commit wrote): it is the highest stored seq, and
   * `streams.head_seq` is brought up to date whenever a prefix is deleted. Two writers on one
   * file cannot fork a stream either way: the second insert of a (thread, seq) fails the batch.
   */
  #write(batch: PendingAppend[]): void {
    for (const item of batch) for (const row of item.rows) this.#stmt.insertEvent.run(...row);
    const { maxEventsPerThread, maxAgeMs } = this.#retention;
    if (maxEventsPerThread === undefined && maxAgeMs === undefined) return;
    const now = Date.now();
    for (const threadId of new Set(batch.map((item) => item.threadId))) this.#retain(threadId, now);
  }

  /** Applies the retention limits to one stream after an append (inside the batch). */
  #retain(threadId: string, now: number): void {
    const state = this.#streams.get(threadId);
    const { maxEventsPerThread, maxAgeMs } = this.#retention;
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

  /** Cuts the stream's prefix below `first` (never a hole in the middle). */
  #setFirst(streamId: number, threadId: string, first: number): void {
    this.#stmt.deleteBefore.run(streamId, first);
    this.#stmt.setFirst.run(first, first - 1, streamId);
    const state = this.#streams.get(threadId);
    if (state) {
      state.firstSeq = first;
      state.oldestTs = undefined;
    }
  }

  #notify(item: PendingAppend): void {
    const set = this.#listeners.get(item.threadId);
    if (!set || set.size === 0) return;
    const subs = [...set];
    for (const event of item.events) {
      for (const sub of subs) {
        if (!sub.active) continue;
        try {
          sub.listener(event);
        } catch (err) {
          // One broken listener must not starve the others or fail the append.
          this.#logger?.error(
            { err, threadId: item.threadId, seq: event.seq },
            'event listener threw',
          );
        }
      }
    }
  }

  /** Bounds memory: forgets the oldest stream positions (nothing is pending here). */
  #evictCache(): void {
    if (this.#streams.size <= this.#maxCached) return;
    let excess = this.#streams.size - Math.floor(this.#maxCached * 0.9);
    for (const key of this.#streams.keys()) {
      if (excess-- <= 0) break;
      this.#streams.delete(key);
    }
  }
}
