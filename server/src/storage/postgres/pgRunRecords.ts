import { AppError, createMessageId, type Message, type RunStatus } from '@tracewire/shared';
import { sql, type Kysely, type Transaction } from 'kysely';
import { pgMessage, type PgRunRow } from './pgRows.js';
import type { PgSchema } from './schema.js';

/** A connection or a transaction of the PostgreSQL chat store. */
export type PgExecutor = Kysely<PgSchema> | Transaction<PgSchema>;

/** How a run's record ends, and where its terminal event is. */
export interface RecordEnd {
  status: RunStatus;
  endedAt: Date;
  error: { code: string; message: string } | null;
  terminal: { epoch: string; seq: number };
  /** The answer to insert (completed runs), keeping the id and time clients were shown. */
  answer?: { id: string; content: string; createdAt: Date } | undefined;
}

/** The run's row, or NOT_FOUND. */
export async function selectPgRun(db: PgExecutor, id: string): Promise<PgRunRow> {
  const row = await db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', `run ${id} not found`);
  return row;
}

/**
 * Ends an unfinished run's record as its terminal event says, with its answer, in one
 * transaction: the run row first (locked by the update), then the thread (its `updated_at`),
 * then the answer. Null when the run had already ended (nothing written).
 */
export async function endPgRecord(
  db: Kysely<PgSchema>,
  row: PgRunRow,
  end: RecordEnd,
): Promise<{ row: PgRunRow; message: Message | null } | null> {
  return db.transaction().execute(async (trx) => {
    const next = await trx
      .updateTable('runs')
      .set({
        status: end.status,
        ended_at: end.endedAt,
        error_code: end.error?.code ?? null,
        error_message: end.error?.message ?? null,
        terminal_epoch: end.terminal.epoch,
        terminal_seq: end.terminal.seq,
      })
      .where('id', '=', row.id)
      .where('status', 'in', ['queued', 'running'])
      .returningAll()
      .executeTakeFirst();
    if (!next) return null;
    let message: Message | null = null;
    if (end.answer && !(await selectPgAnswer(trx, row))) {
      await trx
        .updateTable('threads')
        .set({ updated_at: sql<Date>`greatest(updated_at, ${end.answer.createdAt})` })
        .where('id', '=', row.thread_id)
        .execute();
      message = pgMessage(
        await trx
          .insertInto('messages')
          .values({
            id: end.answer.id,
            thread_id: row.thread_id,
            user_id: null,
            role: 'assistant',
            content: end.answer.content,
            run_id: row.id,
            client_message_id: null,
            created_at: end.answer.createdAt,
          })
          .returningAll()
          .executeTakeFirstOrThrow(),
      );
    }
    return { row: next, message };
  });
}

/** Points a finished record at its terminal event. */
export async function linkPgTerminal(
  db: PgExecutor,
  runId: string,
  terminal: { epoch: string; seq: number },
): Promise<PgRunRow> {
  return db
    .updateTable('runs')
    .set({ terminal_epoch: terminal.epoch, terminal_seq: terminal.seq })
    .where('id', '=', runId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The answer of a run (its first assistant message), or null. */
export async function selectPgAnswer(
  db: PgExecutor,
  run: Pick<PgRunRow, 'id' | 'thread_id'>,
): Promise<Message | null> {
  const row = await db
    .selectFrom('messages')
    .selectAll()
    .where('thread_id', '=', run.thread_id)
    .where('run_id', '=', run.id)
    .where('role', '=', 'assistant')
    .orderBy('pos')
    .limit(1)
    .executeTakeFirst();
  return row ? pgMessage(row) : null;
}

/** Runs whose record does not point at a terminal event yet, oldest first. */
export async function selectPgRunsToReconcile(db: PgExecutor): Promise<PgRunRow[]> {
  return db
    .selectFrom('runs')
    .selectAll()
    .where('terminal_seq', 'is', null)
    .orderBy('created_at', 'asc')
    .orderBy('id', 'asc')
    .execute();
}

/** A new answer id (the terminal event carries it before the record holds it). */
export const newAnswerId = (): string => createMessageId();
