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
import type { MessagesTable, RunsTable, ThreadsTable } from './schema.js';

/** A thread row as read back. */
export type ThreadRow = Selectable<ThreadsTable>;
/** A message row as read back. */
export type MessageRow = Selectable<MessagesTable>;
/** A run row as read back. */
export type RunRow = Selectable<RunsTable>;

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/** Thread row → model (ms integers become Dates). */
export const toThread = (r: ThreadRow): Thread => ({
  id: r.id as ThreadId,
  userId: r.user_id as UserId,
  title: r.title,
  agent: r.agent,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

/** Message row → model. */
export const toMessage = (r: MessageRow): Message => ({
  id: r.id as MessageId,
  threadId: r.thread_id as ThreadId,
  role: r.role,
  content: r.content,
  runId: r.run_id as RunId | null,
  clientMessageId: r.client_message_id as ClientMessageId | null,
  createdAt: new Date(r.created_at),
});

/** Run row → model (the two error columns become one object). */
export const toRun = (r: RunRow): Run => ({
  id: r.id as RunId,
  threadId: r.thread_id as ThreadId,
  userId: r.user_id as UserId,
  messageId: r.message_id as MessageId,
  agent: r.agent,
  status: r.status,
  error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
  createdAt: new Date(r.created_at),
  startedAt: date(r.started_at),
  endedAt: date(r.ended_at),
  durationMs: r.duration_ms,
});
