import type { AgentEvent, AppError } from '@tracewire/shared';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type { AgentEventDraft, AppendCallback } from '../../events/eventLog.js';
import { createTransactionRunner, type TransactionRunner } from './database.js';
import { prepareDraft } from './eventCodec.js';
import type { LogListeners } from './logListeners.js';
import type { LogRetention } from './logRetention.js';
import type { LogStatements } from './logStatements.js';
import type { NumberedEvents, StreamPositions } from './streamPositions.js';
import { toAppError } from './sqliteErrors.js';

/**
 * Appends events from inside a write queued with {@link LogBatch.write}: they take the
 * stream's next positions at once (after every event accepted before) and are stored in the
 * write's transaction.
 */
export type TransactionAppend = (
  threadId: string,
  drafts: readonly AgentEventDraft[],
) => AgentEvent[];

/** Reports a queued write: its result, or the error (nothing written). */
export type WriteCallback<T> = (err: AppError | null, result: T | undefined) => void;

interface PendingAppend {
  threadId: string;
  events: AgentEvent[];
  rows: unknown[][];
  done: AppendCallback;
}

interface PendingWrite {
  write: (append: TransactionAppend) => unknown;
  done: WriteCallback<unknown>;
  /** Filled while the batch is written. */
  appended: { threadId: string; events: AgentEvent[] }[];
  result: unknown;
  error: AppError | null;
}

/** What {@link LogBatch} works with: the event log's parts. */
export interface LogBatchOptions {
  sqlite: Database.Database;
  stmt: LogStatements;
  positions: StreamPositions;
  listeners: LogListeners;
  retention: LogRetention;
  logger: Logger | undefined;
  maxBatchDelayMs: number;
}

const NONE: readonly AgentEvent[] = Object.freeze([]);

/** Captured at load so that tests using fake timers do not stall the log's writes. */
export const defer: (fn: () => void) => void = globalThis.setImmediate.bind(globalThis);

/** Pending events that force a synchronous flush (bounds memory and transaction size). */
const MAX_PENDING_EVENTS = 4096;

/**
 * The event log's group commit. Everything accepted until the event loop's check phase is
 * written in one transaction (at once when the batch is `maxBatchDelayMs` old, so a busy turn
 * does not hold its events): first the appends, numbered when accepted, then the queued
 * writes, each in a savepoint, numbering their events then. After the commit, listeners see
 * the events in seq order and every append and write is reported, in order, in one microtask.
 */
export class LogBatch {
  readonly #o: LogBatchOptions;
  readonly #writeBatch: Database.Transaction<
    (batch: PendingAppend[], writes: PendingWrite[]) => void
  >;
  readonly #savepoint: TransactionRunner;
  #pending: PendingAppend[] = [];
  #writes: PendingWrite[] = [];
  #pendingEvents = 0;
  /** `performance.now()` of the batch's first append or write. */
  #pendingSince = 0;
  #scheduled = false;
  #notifying = false;
  #stopped = false;

  constructor(opts: LogBatchOptions) {
    this.#o = opts;
    this.#writeBatch = opts.sqlite.transaction((batch: PendingAppend[], writes: PendingWrite[]) =>
      this.#write(batch, writes),
    );
    this.#savepoint = createTransactionRunner(opts.sqlite);
  }

  /** Queues numbered events; `done` runs once, after the commit and the listeners. */
  append(threadId: string, numbered: NumberedEvents, done: AppendCallback): void {
    this.#pending.push({ threadId, events: numbered.events, rows: numbered.rows, done });
    this.#accepted(numbered.events.length);
  }

  /** Queues a write of the next batch transaction (see `SqliteEventLog.enqueueWrite`). */
  write<T>(write: (append: TransactionAppend) => T, done: WriteCallback<T>): void {
    const done_ = done as WriteCallback<unknown>;
    this.#writes.push({ write, done: done_, appended: [], result: undefined, error: null });
    this.#accepted(0);
  }

  /** Starts or grows the batch; commits it at once when it is old or big enough. */
  #accepted(events: number): void {
    const now = performance.now();
    if (this.#pending.length + this.#writes.length === 1) this.#pendingSince = now;
    this.#pendingEvents += events;
    if (
      this.#pendingEvents >= MAX_PENDING_EVENTS ||
      now - this.#pendingSince >= this.#o.maxBatchDelayMs
    )
      this.flush();
    else this.#schedule();
  }

  /** Commits what is pending; scheduled flushes stop after `stop()`. */
  stop(): void {
    try {
      this.flush();
    } finally {
      this.#stopped = true;
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    defer(() => {
      this.#scheduled = false;
      if (!this.#stopped) this.flush();
    });
  }

  /** Writes everything pending in one transaction, then notifies and reports, in order. */
  flush(): void {
    // A listener that appends re-entrantly must not get its events delivered before the rest
    // of the current batch: the scheduled flush writes them afterwards.
    if (this.#notifying) return;
    const batch = this.#pending;
    const writes = this.#writes;
    if (batch.length === 0 && writes.length === 0) return;
    this.#pending = [];
    this.#writes = [];
    this.#pendingEvents = 0;
    const { positions, listeners } = this.#o;
    try {
      // Immediate: the write lock is taken (waiting out another connection's, such as the
      // checkpointer's) before anything is read. A deferred transaction that reads first, as
      // a batch holding only a run's end does, is refused at once when it must upgrade.
      this.#writeBatch.immediate(batch, writes);
    } catch (err) {
      // Positions handed out for this batch were never stored: forget them.
      for (const item of batch) positions.forget(item.threadId);
      for (const w of writes) for (const a of w.appended) positions.forget(a.threadId);
      const error = toAppError(err);
      this.#o.logger?.error({ err }, 'event log append failed');
      this.#report(batch, writes, error);
      return;
    }
    for (const item of batch) positions.commit(item.threadId, item.events);
    for (const w of writes) for (const a of w.appended) positions.commit(a.threadId, a.events);
    positions.evict();
    this.#notifying = true;
    try {
      // Writes number their events after every append of the batch: seq order per thread.
      for (const item of batch) listeners.notify(item.threadId, item.events);
      for (const w of writes) for (const a of w.appended) listeners.notify(a.threadId, a.events);
    } finally {
      this.#notifying = false;
    }
    this.#report(batch, writes, null);
    if (this.#pending.length > 0 || this.#writes.length > 0) this.#schedule();
  }

  /**
   * Reports each append and write of a batch, in order, in one microtask: never within the
   * call that flushed it (a batch old enough commits within the call). A callback that throws
   * does not keep the others from theirs.
   */
  #report(batch: readonly PendingAppend[], writes: readonly PendingWrite[], err: AppError | null) {
    const logger = this.#o.logger;
    queueMicrotask(() => {
      for (const item of batch) {
        try {
          item.done(err, err ? NONE : item.events);
        } catch (thrown) {
          logger?.error({ err: thrown, threadId: item.threadId }, 'append callback threw');
        }
      }
      for (const w of writes) {
        const error = err ?? w.error;
        try {
          w.done(error, error ? undefined : w.result);
        } catch (thrown) {
          logger?.error({ err: thrown }, 'write callback threw');
        }
      }
    });
  }

  /**
   * The body of the batch transaction: the events, then the writes. The head is not
   * rewritten per append (that doubled the pages each commit wrote): it is the highest stored
   * seq, and `streams.head_seq` is brought up to date whenever a prefix is deleted. Two
   * writers on one file cannot fork a stream either way: the second insert of a
   * (thread, seq) fails the batch.
   */
  #write(batch: PendingAppend[], writes: PendingWrite[]): void {
    const { stmt, retention } = this.#o;
    for (const item of batch) for (const row of item.rows) stmt.insertEvent.run(...row);
    for (const w of writes) this.#runWrite(w);
    if (!retention.active) return;
    const now = Date.now();
    const threads = new Set(batch.map((item) => item.threadId));
    for (const w of writes) for (const a of w.appended) threads.add(a.threadId);
    for (const threadId of threads) retention.retain(threadId, now);
  }

  /** One write in its own savepoint; on failure the positions it took are given back. */
  #runWrite(w: PendingWrite): void {
    const { stmt, positions } = this.#o;
    const touched = new Set<string>();
    const append: TransactionAppend = (threadId, drafts) => {
      const prepared = drafts.map((d) => prepareDraft(d, threadId));
      touched.add(threadId);
      const numbered = positions.number(threadId, prepared);
      for (const row of numbered.rows) stmt.insertEvent.run(...row);
      w.appended.push({ threadId, events: numbered.events });
      return numbered.events;
    };
    try {
      w.result = this.#savepoint(() => w.write(append));
    } catch (err) {
      // Reloaded from the file when next used: the savepoint took back the rows (and any
      // stream row it created).
      for (const threadId of touched) positions.forget(threadId);
      w.appended = [];
      w.error = toAppError(err);
    }
  }
}
