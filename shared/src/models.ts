import { z } from 'zod';
import {
  ClientMessageIdSchema,
  MessageIdSchema,
  RunIdSchema,
  ThreadIdSchema,
  UserIdSchema,
} from './ids.js';

/** A conversation owned by one user. */
export const ThreadSchema = z.object({
  id: ThreadIdSchema,
  userId: UserIdSchema,
  title: z.string(),
  /** The agent that answers this thread's messages (chosen at `chat.createThread`). */
  agent: z.string(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type Thread = z.infer<typeof ThreadSchema>;

/** Who wrote a message. */
export const MessageRoleSchema = z.enum(['user', 'assistant']);
export type MessageRole = z.infer<typeof MessageRoleSchema>;

/** One message in a thread: the user's input or the agent's final answer. */
export const MessageSchema = z.object({
  id: MessageIdSchema,
  threadId: ThreadIdSchema,
  role: MessageRoleSchema,
  content: z.string(),
  /** The run this message started (user) or that produced it (assistant). */
  runId: RunIdSchema.nullable(),
  clientMessageId: ClientMessageIdSchema.nullable(),
  createdAt: z.date(),
});
export type Message = z.infer<typeof MessageSchema>;

/** Lifecycle of an agent run. */
export const RunStatusSchema = z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']);
export type RunStatus = z.infer<typeof RunStatusSchema>;

/** Statuses after which a run never changes again. */
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

/** True when the run has ended. */
export const isTerminalRunStatus = (status: RunStatus): boolean =>
  TERMINAL_RUN_STATUSES.includes(status);

/** One agent run, started by one user message. */
export const RunSchema = z.object({
  id: RunIdSchema,
  threadId: ThreadIdSchema,
  userId: UserIdSchema,
  /** The user message that started the run. */
  messageId: MessageIdSchema,
  agent: z.string(),
  status: RunStatusSchema,
  /** Set when the run failed or was cancelled. */
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  createdAt: z.date(),
  startedAt: z.date().nullable(),
  endedAt: z.date().nullable(),
  /** Wall time from start to end, once ended. */
  durationMs: z.number().nullable(),
});
export type Run = z.infer<typeof RunSchema>;
