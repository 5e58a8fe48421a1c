import {
  AgentErrorCodeSchema,
  AppError,
  isTerminalRunStatus,
  type AgentEvent,
  type EventMeta,
  type Message,
  type MessageId,
  type Run,
  type RunId,
  type ThreadId,
} from '@tracewire/shared';
import type { Kysely } from 'kysely';
import type { AgentEventDraft } from '../events/eventLog.js';
import type { RedisEventLog } from '../events/redis/redisEventLog.js';
import { pgRun, type PgRunRow } from '../storage/postgres/pgRows.js';
import { pgToAppError } from '../storage/postgres/pgErrors.js';
import {
  endPgRecord,
  linkPgTerminal,
  newAnswerId,
  selectPgAnswer,
  selectPgRun,
  selectPgRunsToReconcile,
  type RecordEnd,
} from '../storage/postgres/pgRunRecords.js';
import type { PgSchema } from '../storage/postgres/schema.js';
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
} from '../storage/runLedger.js';

/** Never used: a finished record is not ended again. */
const ABANDONED_UNUSED = { code: 'INTERNAL', message: 'unused' } as const;

/** Options for {@link ClusterRunLedger}. */
export interface ClusterRunLedgerOptions {
  /** The PostgreSQL chat store's database (runs and answers). */
  db: Kysely<PgSchema>;
  /** The Redis event log (terminal events; it refuses a second one per run). */
  events: RedisEventLog;
}

const isTerminal = (e: AgentEvent | null | undefined): e is TerminalEvent =>
  e?.type === 'agent_completed' || e?.type === 'agent_error';

/** True when a finished record and a terminal event tell the same ending. */
function agrees(row: PgRunRow, event: TerminalEvent): boolean {
  if (event.type === 'agent_completed') return row.status === 'completed';
  return row.status === statusForCode(event.code) && row.error_code === event.code;
}

/** The record's end that a terminal event describes. */
function recordEndOf(event: TerminalEvent): RecordEnd {
  const terminal = { epoch: event.epoch, seq: event.seq };
  if (event.type === 'agent_completed') {
    const m = event.message;
    return {
      status: 'completed',
      endedAt: new Date(event.ts),
      error: null,
      terminal,
      answer: { id: m.id, content: m.content, createdAt: m.createdAt },
    };
  }
  return {
    status: statusForCode(event.code),
    endedAt: new Date(event.ts),
    error: { code: event.code, message: event.message },
    terminal,
  };
}

/**
 * The {@link RunLedger} of a cluster: runs in PostgreSQL, events in Redis, no transaction
 * spanning both. The terminal event is the commit point: it is appended first (the append
 * script refuses a second terminal event for the run, so of concurrent finishes on any
 * instances exactly one wins), then the record (status, answer with the event's message id,
 * the event's epoch and seq) is written. A crash between the two leaves a terminal event
 * whose record is unfinished, which {@link reconcileRun} completes from the event.
 */
export class ClusterRunLedger implements RunLedger {
  readonly #db: Kysely<PgSchema>;
  readonly #events: RedisEventLog;

  constructor(opts: ClusterRunLedgerOptions) {
    this.#db = opts.db;
    this.#events = opts.events;
  }

  async finishRun(input: FinishRunInput): Promise<FinishedRun> {
    const row = await this.#pg(() => selectPgRun(this.#db, input.run.id));
    if (isTerminalRunStatus(row.status)) return { run: pgRun(row), message: null, event: null };
    const done = await this.#appendTerminal(
      row,
      draftOf(row, input.outcome, input.terminal ?? {}),
      async (event) => {
        const ended = await this.#pg(() => endPgRecord(this.#db, row, recordEndOf(event)));
        // Ended in PostgreSQL meanwhile by something that wrote no event: point it at this one.
        return (
          ended?.row ??
          (await this.#pg(() =>
            linkPgTerminal(this.#db, row.id, { epoch: event.epoch, seq: event.seq }),
          ))
        );
      },
    );
    if (!done) {
      // Another finish won the terminal event: its record follows (or reconcile completes it).
      const current = await this.#pg(() => selectPgRun(this.#db, row.id));
      return { run: pgRun(current), message: null, event: null };
    }
    const { event, recorded } = done;
    const message = event.type === 'agent_completed' ? event.message : null;
    return { run: pgRun(recorded), message, event };
  }

  async listRunsToReconcile(): Promise<Run[]> {
    return (await this.#pg(() => selectPgRunsToReconcile(this.#db))).map(pgRun);
  }

  async reconcileRun(runId: RunId, opts: ReconcileOptions): Promise<ReconcileResult> {
    const row = await this.#pg(() => selectPgRun(this.#db, runId));
    const found = await this.#events.terminalOf(row.thread_id as ThreadId, row.id);
    const event: TerminalEvent | null = isTerminal(found?.event) ? found.event : null;
    if (found && !event) {
      // The log recorded a terminal seq whose event retention dropped: keep the record.
      if (isTerminalRunStatus(row.status)) {
        const linked = await this.#pg(() =>
          linkPgTerminal(this.#db, row.id, { epoch: row.terminal_epoch ?? '', seq: found.seq }),
        );
        return { action: 'linked', run: pgRun(linked), event: null };
      }
      return {
        action: 'conflict',
        run: pgRun(row),
        event: null,
        detail: `terminal event at seq ${found.seq} is no longer retained`,
      };
    }
    if (!isTerminalRunStatus(row.status)) {
      if (!event) {
        const ended = await this.finishRun({
          run: { id: row.id as RunId, threadId: row.thread_id as ThreadId },
          outcome: failedOutcome(opts.abandoned),
        });
        return { action: 'ended', run: ended.run, event: ended.event };
      }
      const recorded = await this.#pg(() => endPgRecord(this.#db, row, recordEndOf(event)));
      const run = recorded?.row ?? (await this.#pg(() => selectPgRun(this.#db, row.id)));
      return { action: 'recorded', run: pgRun(run), event: null };
    }
    if (event) {
      if (row.terminal_seq === event.seq && row.terminal_epoch === event.epoch)
        return { action: 'none', run: pgRun(row), event: null };
      const linked = await this.#pg(() =>
        linkPgTerminal(this.#db, row.id, { epoch: event.epoch, seq: event.seq }),
      );
      if (agrees(row, event)) return { action: 'linked', run: pgRun(linked), event: null };
      const detail = `record ${row.status} ${row.error_code ?? ''} but ${event.type} in the log`;
      return { action: 'conflict', run: pgRun(linked), event: null, detail };
    }
    // Finished without its event: missing (null), or dropped by retention long ago (set).
    if (row.terminal_seq !== null) return { action: 'none', run: pgRun(row), event: null };
    return this.#emitFrom(row);
  }

  /** Appends the terminal event a finished record lacks, derived from the record. */
  async #emitFrom(row: PgRunRow): Promise<ReconcileResult> {
    const base = { threadId: row.thread_id as ThreadId, runId: row.id as RunId, ts: Date.now() };
    let draft: AgentEventDraft;
    if (row.status === 'completed') {
      const answer = await this.#pg(() => selectPgAnswer(this.#db, row));
      // Only a store written around the ledger has a completed run without an answer.
      const message: Message = answer ?? {
        id: newAnswerId() as MessageId,
        threadId: base.threadId,
        role: 'assistant',
        content: '',
        runId: base.runId,
        clientMessageId: null,
        createdAt: new Date(base.ts),
      };
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
    const done = await this.#appendTerminal(row, draft, (event) =>
      this.#pg(() => linkPgTerminal(this.#db, row.id, { epoch: event.epoch, seq: event.seq })),
    );
    // Another instance emitted it meanwhile: link to that one.
    if (!done) return this.reconcileRun(row.id as RunId, { abandoned: ABANDONED_UNUSED });
    return { action: 'emitted', run: pgRun(done.recorded), event: done.event };
  }

  /**
   * Appends a terminal event, then runs `record` (the PostgreSQL half) before this instance's
   * listeners get the event, so that none of its subscribers sees a run ended whose record
   * still says otherwise. Null when the log already holds a terminal event for the run.
   */
  async #appendTerminal<T>(
    row: PgRunRow,
    draft: AgentEventDraft,
    record: (event: TerminalEvent) => Promise<T>,
  ): Promise<{ event: TerminalEvent; recorded: T } | null> {
    let appended: { events: AgentEvent[]; release: () => void };
    try {
      appended = await this.#events.appendHeld(row.thread_id as ThreadId, [draft]);
    } catch (err) {
      if (AppError.is(err) && err.code === 'CONFLICT' && /has ended/.test(err.message)) return null;
      throw err;
    }
    try {
      const [event] = appended.events;
      if (!isTerminal(event)) throw new AppError('INTERNAL', 'terminal event not stored');
      return { event, recorded: await record(event) };
    } finally {
      // Committed in the log either way: listeners get it even when the record failed.
      appended.release();
    }
  }

  async #pg<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw pgToAppError(err);
    }
  }
}

/** The terminal event of an outcome (an `agent_completed` carries a new answer). */
function draftOf(
  row: PgRunRow,
  outcome: RunOutcome,
  terminal: { ts?: number; _meta?: EventMeta | undefined },
): AgentEventDraft {
  const ts = terminal.ts ?? Date.now();
  const base = {
    threadId: row.thread_id as ThreadId,
    runId: row.id as RunId,
    ts,
    ...(terminal._meta ? { _meta: terminal._meta } : {}),
  };
  if (outcome.kind === 'completed') {
    const message: Message = {
      id: newAnswerId() as MessageId,
      threadId: base.threadId,
      role: 'assistant',
      content: outcome.answer,
      runId: base.runId,
      clientMessageId: null,
      createdAt: new Date(ts),
    };
    return { type: 'agent_completed', ...base, message };
  }
  return {
    type: 'agent_error',
    ...base,
    code: outcome.code,
    message: outcome.message,
    retryable: outcome.retryable,
  };
}
