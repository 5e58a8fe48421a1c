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
import { decodeEvent, prepareDraft, type EventRow, type PreparedDraft } from './eventCodec.js';
import { LogBatch, defer, type TransactionAppend, type WriteCallback } from './logBatch.js';
import { LogListeners } from './logListeners.js';
import { LogRetention, type RetentionOptions } from './logRetention.js';
import { prepareLogStatements, type LogStatements } from './logStatements.js';
import { StreamPositions } from './streamPositions.js';
import { toAppError } from './sqliteErrors.js';

export type { RetentionOptions } from './logRetention.js';
export type { TransactionAppend, WriteCallback } from './logBatch.js';

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

/**
 * The embedded {@link EventLog} on SQLite. `append` assigns positions synchronously (so
 * concurrent callers keep their call order), appends issued in the same event-loop turn are
 * written in one transaction (earlier once the batch is `maxBatchDelayMs` old; see
 * {@link LogBatch}), and listeners run after the commit, in seq order. Raw prepared statements
 * keep the hot path free of query building and per-event reads. Writes to other tables that
 * must commit with events (a run's end and its terminal event) join the same batch through
 * {@link SqliteEventLog.enqueueWrite}.
 */
export class SqliteEventLog implements EventLog {
  readonly #sqlite: Database.Database;
  readonly #stmt: LogStatements;
  readonly #positions: StreamPositions;
  readonly #listeners: LogListeners;
  readonly #retention: LogRetention;
  readonly #batch: LogBatch;
  readonly #logger: Logger | undefined;
  readonly #onClose: (() => void) | undefined;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #pruning = false;

  constructor(opts: SqliteEventLogOptions) {
    this.#sqlite = opts.database.sqlite;
    this.#logger = opts.logger;
    this.#onClose = opts.onClose;
    this.#stmt = prepareLogStatements(this.#sqlite);
    this.#positions = new StreamPositions(this.#stmt, opts.maxCachedStreams ?? 10_000);
    this.#listeners = new LogListeners(opts.logger);
    this.#retention = new LogRetention({
      options: opts.retention,
      sqlite: this.#sqlite,
      stmt: this.#stmt,
      positions: this.#positions,
    });
    this.#batch = new LogBatch({
      sqlite: this.#sqlite,
      stmt: this.#stmt,
      positions: this.#positions,
      listeners: this.#listeners,
      retention: this.#retention,
      logger: opts.logger,
      maxBatchDelayMs: opts.maxBatchDelayMs ?? 2,
    });
    const maxAge = this.#retention.options.maxAgeMs;
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
    let numbered;
    try {
      this.#assertOpen();
      // Checked (and serialized when not plain) before taking positions, so a bad payload
      // fails only this call.
      const prepared: PreparedDraft[] = [];
      for (const d of drafts) prepared.push(prepareDraft(d, threadId));
      numbered = this.#positions.number(threadId, prepared);
    } catch (err) {
      throw toAppError(err);
    }
    this.#batch.append(threadId, numbered, done);
  }

  /**
   * Runs `write` inside the transaction of the next batch, after the batch's appends, in a
   * savepoint of its own: what it writes to other tables of the file commits together with
   * the events it appends through `append` (numbered then, after every event accepted
   * before), or not at all. Listeners see those events after the commit, in seq order with
   * the rest of the batch; `done` runs once, never within the call, after them. A write that
   * throws is rolled back alone (its positions are not taken) and reported with the error.
   * Throws when the log is closed (nothing queued). Not on {@link EventLog}: the SQLite run
   * ledger finishes runs with it.
   */
  enqueueWrite<T>(write: (append: TransactionAppend) => T, done: WriteCallback<T>): void {
    this.#assertOpen();
    this.#batch.write(write, done);
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
   * The terminal events (`agent_completed`, `agent_error`) stored for a run, oldest first;
   * committed ones only. Not on {@link EventLog}: the SQLite run ledger reconciles with it.
   */
  terminalEventsOf(runId: string): AgentEvent[] {
    this.#assertOpen();
    return (this.#stmt.terminalsOfRun.all(runId) as EventRow[]).map(decodeEvent);
  }

  /**
   * The committed position, without forcing a commit: events still pending reach a
   * subscriber through its listener (registered first), so head and live tail meet exactly.
   */
  head(threadId: ThreadId): Promise<StreamHead> {
    try {
      this.#assertOpen();
      const s = this.#positions.get(threadId);
      return Promise.resolve({ epoch: s.epoch, headSeq: s.committedSeq, firstSeq: s.firstSeq });
    } catch (err) {
      return Promise.reject(toAppError(err));
    }
  }

  subscribe(threadId: ThreadId, listener: EventListener): () => void {
    this.#assertOpen();
    return this.#listeners.subscribe(threadId, listener);
  }

  /**
   * Drops the thread's history and starts a new epoch (seq restarts after 0). Clients
   * holding a position of the old epoch get `resync`. Not on {@link EventLog}: tests and
   * operators use it to exercise and repair the resync path.
   */
  resetStream(threadId: ThreadId): Promise<StreamHead> {
    try {
      this.#assertOpen();
      this.#batch.flush();
      const epoch = createEpoch();
      this.#sqlite.transaction(() => {
        this.#stmt.deleteAll.run(threadId);
        this.#stmt.resetStream.run(threadId, epoch);
      })();
      // Reloaded: the row (and its id) may be new.
      this.#positions.forget(threadId);
      const s = this.#positions.get(threadId);
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
    if (this.#retention.options.maxAgeMs === undefined) return 0;
    this.#batch.flush();
    let trimmed = 0;
    for (let page = this.#retention.prunePage(now, ''); ;) {
      trimmed += page.trimmed;
      if (page.next === null) return trimmed;
      page = this.#retention.prunePage(now, page.next);
    }
  }

  /** The timer's prune: one page per macrotask, so thousands of streams never stall the loop. */
  async #pruneInPages(): Promise<void> {
    if (this.#pruning || this.#retention.options.maxAgeMs === undefined) return;
    this.#pruning = true;
    const now = Date.now();
    try {
      for (let after: string | null = ''; after !== null && !this.#closed;) {
        this.#batch.flush();
        after = this.#retention.prunePage(now, after).next;
        await new Promise((resolve) => defer(() => resolve(undefined)));
      }
    } finally {
      this.#pruning = false;
    }
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    try {
      this.#batch.stop();
    } finally {
      this.#closed = true;
      if (this.#timer) clearInterval(this.#timer);
      this.#listeners.clear();
      this.#positions.clear();
      this.#onClose?.();
    }
    return Promise.resolve();
  }
}
