import {
  AgentErrorCodeSchema,
  AppError,
  isTerminalRunStatus,
  type AgentEvent,
  type EventMeta,
  type Message,
  type Run,
  type RunId,
} from '@tracewire/shared';
import type { Kysely } from 'kysely';
import type { AgentEventDraft } from '../../events/eventLog.js';
import type { RunPatch } from '../chatStore.js';
import {
  failedOutcome,
  isRetryableCode,
  statusForCode,
  type FinishRunInput,
  type FinishedRun,
  type ReconcileOptions,
  type ReconcileResult,
  type RunLedger,
  type RunOutcome,
  type TerminalEvent,
} from '../runLedger.js';
import type { SqliteDatabase } from './database.js';
import type { TransactionAppend } from './logBatch.js';
import { toRun, type RunRow } from './rows.js';
import {
  applyPatch,
  insertAnswer,
  selectAnswer,
  selectRun,
  writeRun,
  type RecordContext,
} from './runRecords.js';
import type { DatabaseSchema } from './schema.js';
import type { SqliteEventLog } from './sqliteEventLog.js';
import { toAppError } from './sqliteErrors.js';

/** Options for {@link SqliteRunLedger}. */
export interface SqliteRunLedgerOptions {
  database: SqliteDatabase;
  /** The event log on the same file: runs end inside its batch transactions. */
  events: SqliteEventLog;
}

const isTerminal = (e: AgentEvent): e is TerminalEvent =>
  e.type === 'agent_completed' || e.type === 'agent_error';

/** True when a finished record and a terminal event tell the same ending. */
function agrees(row: RunRow, event: TerminalEvent): boolean {
  if (event.type === 'agent_completed') return row.status === 'completed';
  return row.status === statusForCode(event.code) && row.error_code === event.code;
}

/**
 * The embedded {@link RunLedger}: runs, messages and events share one SQLite file, so a run's
 * transition, its answer and its terminal event are one transaction of the event log's batch
 * (`SqliteEventLog.enqueueWrite`): numbered after every event accepted before, seen by
 * listeners right after the commit, and `runs.terminal_seq` records where the event is.
 */
export class SqliteRunLedger implements RunLedger {
  readonly #db: Kysely<DatabaseSchema>;
  readonly #records: RecordContext;
  readonly #events: SqliteEventLog;

  constructor(opts: SqliteRunLedgerOptions) {
    this.#db = opts.database.db;
    this.#records = { db: opts.database.db, sync: opts.database.sync };
    this.#events = opts.events;
  }

  finishRun(input: FinishRunInput): Promise<FinishedRun> {
    return this.#inBatch((append) => {
      const row = selectRun(this.#records, input.run.id);
      if (isTerminalRunStatus(row.status)) return { run: toRun(row), message: null, event: null };
      return this.#end(row, input.outcome, { append, terminal: input.terminal });
    });
  }

  async listRunsToReconcile(): Promise<Run[]> {
    try {
      const rows = await this.#db
        .selectFrom('runs')
        .selectAll()
        .where('terminal_seq', 'is', null)
        .orderBy('created_at', 'asc')
        .orderBy('id', 'asc')
        .execute();
      return rows.map(toRun);
    } catch (err) {
      throw toAppError(err);
    }
  }

  reconcileRun(runId: RunId, opts: ReconcileOptions): Promise<ReconcileResult> {
    return this.#inBatch((append) => this.#reconcile(runId, opts, append));
  }

  /** Runs `write` in the event log's next batch transaction; resolves after its commit. */
  #inBatch<T>(write: (append: TransactionAppend) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      try {
        this.#events.enqueueWrite(write, (err, result) => (err ? reject(err) : resolve(result!)));
      } catch (err) {
        reject(toAppError(err));
      }
    });
  }

  /** Ends an unfinished run: transition, answer, terminal event and its seq, together. */
  #end(
    row: RunRow,
    outcome: RunOutcome,
    opts: { append: TransactionAppend; terminal?: { ts?: number; _meta?: EventMeta | undefined } },
  ): FinishedRun {
    const ts = opts.terminal?.ts ?? Date.now();
    const meta = opts.terminal?._meta ? { _meta: opts.terminal._meta } : {};
    const run = toRun(row);
    const base = { threadId: run.threadId, runId: run.id, ts };
    let message: Message | null = null;
    let patch: RunPatch;
    let draft: AgentEventDraft;
    if (outcome.kind === 'completed') {
      message = insertAnswer(this.#records, {
        threadId: row.thread_id,
        runId: row.id,
        content: outcome.answer,
        createdAt: ts,
      });
      patch = { status: 'completed', endedAt: new Date(ts) };
      draft = { type: 'agent_completed', ...base, message, ...meta };
    } else {
      const { code, retryable } = outcome;
      const error = { code, message: outcome.message };
      patch = { status: statusForCode(code), endedAt: new Date(ts), error };
      draft = {
        type: 'agent_error',
        ...base,
        code,
        message: outcome.message,
        retryable,
        ...meta,
      };
    }
    const event = this.#appendTerminal(opts.append, row.thread_id, draft);
    const next = { ...applyPatch(row, patch, ts), terminal_seq: event.seq };
    writeRun(this.#records, next);
    return { run: toRun(next), message, event };
  }

  #appendTerminal(append: TransactionAppend, threadId: string, draft: AgentEventDraft) {
    const [event] = append(threadId, [draft]);
    if (!event || !isTerminal(event)) throw new AppError('INTERNAL', 'terminal event not stored');
    return event;
  }

  /** One run's reconciliation; see `ReconcileAction` for the cases. */
  #reconcile(runId: RunId, opts: ReconcileOptions, append: TransactionAppend): ReconcileResult {
    const row = selectRun(this.#records, runId);
    // Read inside the batch transaction: includes what earlier writes of this batch stored.
    const terminals = this.#events.terminalEventsOf(runId).filter(isTerminal);
    const first = terminals[0];
    if (!isTerminalRunStatus(row.status)) {
      if (!first) {
        const ended = this.#end(row, failedOutcome(opts.abandoned), { append });
        return { action: 'ended', run: ended.run, event: ended.event };
      }
      return { action: 'recorded', run: this.#recordFrom(row, first), event: null };
    }
    if (first) {
      if (row.terminal_seq === first.seq && terminals.length === 1)
        return { action: 'none', run: toRun(row), event: null };
      const linked = { ...row, terminal_seq: first.seq };
      writeRun(this.#records, linked);
      if (terminals.length === 1 && agrees(row, first))
        return { action: 'linked', run: toRun(linked), event: null };
      const detail =
        terminals.length > 1
          ? `${terminals.length} terminal events (seq ${terminals.map((e) => e.seq).join(', ')})`
          : `record ${row.status} ${row.error_code ?? ''} but ${first.type} in the log`;
      return { action: 'conflict', run: toRun(linked), event: null, detail };
    }
    // Finished without its event: missing (null) or deleted by retention long ago (set).
    if (row.terminal_seq !== null) return { action: 'none', run: toRun(row), event: null };
    return this.#emitFrom(row, append);
  }

  /** Ends an unfinished record as its terminal event says (the answer keeps the event's id). */
  #recordFrom(row: RunRow, event: TerminalEvent): Run {
    let patch: RunPatch;
    if (event.type === 'agent_completed') {
      const m = event.message;
      if (!selectAnswer(this.#records, { threadId: row.thread_id, runId: row.id }))
        insertAnswer(this.#records, {
          threadId: row.thread_id,
          runId: row.id,
          content: m.content,
          id: m.id,
          createdAt: m.createdAt.getTime(),
        });
      patch = { status: 'completed', endedAt: new Date(event.ts) };
    } else {
      const error = { code: event.code, message: event.message };
      patch = { status: statusForCode(event.code), endedAt: new Date(event.ts), error };
    }
    const next = { ...applyPatch(row, patch, event.ts), terminal_seq: event.seq };
    writeRun(this.#records, next);
    return toRun(next);
  }

  /** Appends the terminal event a finished record lacks, derived from the record. */
  #emitFrom(row: RunRow, append: TransactionAppend): ReconcileResult {
    const run = toRun(row);
    const base = { threadId: run.threadId, runId: run.id, ts: Date.now() };
    let draft: AgentEventDraft;
    if (row.status === 'completed') {
      // Only a store written around the ledger has a completed run without an answer: give
      // it an empty one, so that record, answer and event agree.
      const message =
        selectAnswer(this.#records, { threadId: row.thread_id, runId: row.id }) ??
        insertAnswer(this.#records, { threadId: row.thread_id, runId: row.id, content: '' });
      draft = { type: 'agent_completed', ...base, message };
    } else {
      const parsed = AgentErrorCodeSchema.safeParse(row.error_code);
      const code = parsed.success ? parsed.data : 'INTERNAL';
      draft = {
        type: 'agent_error',
        ...base,
        code,
        message: row.error_message ?? '',
        retryable: isRetryableCode(code),
      };
    }
    const event = this.#appendTerminal(append, row.thread_id, draft);
    const next = { ...row, terminal_seq: event.seq };
    writeRun(this.#records, next);
    return { action: 'emitted', run: toRun(next), event };
  }
}
