import type {
  ClientMessageId,
  Message,
  MessageId,
  Run,
  RunId,
  Thread,
  ThreadId,
  UserId,
} from '@tracewire/shared';
import type { Selectable } from 'kysely';
import type { PgMessagesTable, PgRunsTable, PgThreadsTable } from './schema.js';

/** A thread row as read back. */
export type PgThreadRow = Selectable<PgThreadsTable>;
/** A message row as read back. */
export type PgMessageRow = Selectable<PgMessagesTable>;
/** A run row as read back. */
export type PgRunRow = Selectable<PgRunsTable>;

/** Thread row → model. */
export const pgThread = (r: PgThreadRow): Thread => ({
  id: r.id as ThreadId,
  userId: r.user_id as UserId,
  title: r.title,
  agent: r.agent,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Message row → model. */
export const pgMessage = (r: PgMessageRow): Message => ({
  id: r.id as MessageId,
  threadId: r.thread_id as ThreadId,
  role: r.role,
  content: r.content,
  runId: r.run_id as RunId | null,
  clientMessageId: r.client_message_id as ClientMessageId | null,
  createdAt: r.created_at,
});

/** Run row → model: the two error columns become one object; `durationMs` follows from the times. */
export const pgRun = (r: PgRunRow): Run => ({
  id: r.id as RunId,
  threadId: r.thread_id as ThreadId,
  userId: r.user_id as UserId,
  messageId: r.message_id as MessageId,
  agent: r.agent,
  status: r.status,
  error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
  createdAt: r.created_at,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  durationMs:
    r.started_at !== null && r.ended_at !== null
      ? Math.max(0, r.ended_at.getTime() - r.started_at.getTime())
      : null,
});
