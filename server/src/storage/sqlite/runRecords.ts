import { AppError, createMessageId, isTerminalRunStatus, type Message } from '@tracewire/shared';
import { sql, type Kysely } from 'kysely';
import type { RunPatch } from '../chatStore.js';
import type { SyncExecutor } from './database.js';
import { toMessage, type MessageRow, type RunRow } from './rows.js';
import type { DatabaseSchema } from './schema.js';

/**
 * Writes of run and answer rows shared by the chat store and the run ledger. Synchronous:
 * call them inside a transaction, where nothing else on the connection interleaves.
 */
export interface RecordContext {
  db: Kysely<DatabaseSchema>;
  sync: SyncExecutor;
}

/** The run's row, or NOT_FOUND. */
export function selectRun(ctx: RecordContext, id: string): RunRow {
  const row = ctx.sync.first(ctx.db.selectFrom('runs').selectAll().where('id', '=', id).compile());
  if (!row) throw new AppError('NOT_FOUND', `run ${id} not found`);
  return row;
}

/**
 * Applies `patch` to a run that has not ended (`changed` is the new row), or leaves an
 * ended run as it is (`changed` null).
 */
export function transitionRun(
  ctx: RecordContext,
  id: string,
  patch: RunPatch,
): { row: RunRow; changed: RunRow | null } {
  const row = selectRun(ctx, id);
  if (isTerminalRunStatus(row.status)) return { row, changed: null };
  const next = applyPatch(row, patch, Date.now());
  writeRun(ctx, next);
  return { row, changed: next };
}

/** Stores a run's mutable columns as they are in `next`. */
export function writeRun(ctx: RecordContext, next: RunRow): void {
  ctx.sync.run(
    ctx.db
      .updateTable('runs')
      .set({
        status: next.status,
        started_at: next.started_at,
        ended_at: next.ended_at,
        error_code: next.error_code,
        error_message: next.error_message,
        duration_ms: next.duration_ms,
        terminal_seq: next.terminal_seq,
      })
      .where('id', '=', next.id)
      .compile(),
  );
}

/**
 * The run after a transition: `running` stamps `startedAt`, a terminal status stamps
 * `endedAt` (unless given), and `durationMs` follows from both.
 */
export function applyPatch(row: RunRow, patch: RunPatch, now: number): RunRow {
  const terminal = isTerminalRunStatus(patch.status);
  const startedAt =
    patch.startedAt?.getTime() ?? row.started_at ?? (patch.status === 'running' ? now : null);
  const endedAt = patch.endedAt?.getTime() ?? row.ended_at ?? (terminal ? now : null);
  const error =
    patch.error === undefined
      ? row.error_code === null
        ? null
        : { code: row.error_code, message: row.error_message ?? '' }
      : patch.error;
  return {
    ...row,
    status: patch.status,
    started_at: startedAt,
    ended_at: endedAt,
    error_code: error?.code ?? null,
    error_message: error?.message ?? null,
    duration_ms: startedAt !== null && endedAt !== null ? Math.max(0, endedAt - startedAt) : null,
  };
}

/**
 * Inserts a run's answer and touches its thread. `id` and `createdAt` are given when the
 * answer was already shown to clients (in an `agent_completed` event) and must keep them.
 */
export function insertAnswer(
  ctx: RecordContext,
  input: { threadId: string; runId: string; content: string; id?: string; createdAt?: number },
): Message {
  const now = input.createdAt ?? Date.now();
  const row: MessageRow = {
    pos: 0,
    id: input.id ?? createMessageId(),
    thread_id: input.threadId,
    user_id: null,
    role: 'assistant',
    content: input.content,
    run_id: input.runId,
    client_message_id: null,
    created_at: now,
  };
  const { pos: _pos, ...values } = row;
  ctx.sync.run(ctx.db.insertInto('messages').values(values).compile());
  touchThread(ctx, input.threadId, now);
  return toMessage(row);
}

/** The answer of a run (its assistant message), or null. */
export function selectAnswer(
  ctx: RecordContext,
  run: { threadId: string; runId: string },
): Message | null {
  const row = ctx.sync.first(
    ctx.db
      .selectFrom('messages')
      .selectAll()
      // By thread first: messages are indexed by (thread_id, pos), not by run.
      .where('thread_id', '=', run.threadId)
      .where('run_id', '=', run.runId)
      .where('role', '=', 'assistant')
      .orderBy('pos')
      .limit(1)
      .compile(),
  );
  return row ? toMessage(row) : null;
}

/** Moves the thread's `updated_at` forward (never back). */
export function touchThread(ctx: RecordContext, threadId: string, now: number): void {
  ctx.sync.run(
    ctx.db
      .updateTable('threads')
      .set({ updated_at: sql<number>`max(updated_at, ${now})` })
      .where('id', '=', threadId)
      .compile(),
  );
}
