import { z } from 'zod';
import { ClientMessageIdSchema, RunIdSchema, ThreadIdSchema } from './ids.js';
import { INPUT_LIMITS } from './limits.js';
import { MessageSchema, RunSchema, ThreadSchema } from './models.js';

/**
 * Per-call metadata every procedure accepts in `input._meta` (the only per-call carrier
 * that survives tRPC's WS protocol). The server strips it before validating the input;
 * it never carries identity.
 */
export const CallMetaSchema = z.object({
  requestId: z
    .string()
    .regex(/^[\w.:-]{1,128}$/)
    .optional(),
  traceparent: z
    .string()
    .regex(/^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/)
    .optional(),
  tracestate: z.string().max(512).optional(),
});
export type CallMeta = z.infer<typeof CallMetaSchema>;

const cursor = z.string().min(1).max(INPUT_LIMITS.cursorMaxChars);
const limit = z.number().int().min(1).max(INPUT_LIMITS.pageSizeMax);

/** `chat.createThread` input; `agent` defaults to the server's default agent. */
export const CreateThreadInputSchema = z.object({
  title: z.string().trim().min(1).max(INPUT_LIMITS.titleMaxChars).optional(),
  /** Name of a registered agent (the server refuses unknown names with BAD_REQUEST). */
  agent: z.string().min(1).max(INPUT_LIMITS.agentNameMaxChars).optional(),
});
export type CreateThreadInput = z.input<typeof CreateThreadInputSchema>;

/** `chat.listThreads` input: newest first. */
export const ListThreadsInputSchema = z.object({
  cursor: cursor.optional(),
  limit: limit.optional(),
});
export type ListThreadsInput = z.input<typeof ListThreadsInputSchema>;

/** `chat.send` input; idempotent on `clientMessageId`. */
export const SendInputSchema = z.object({
  threadId: ThreadIdSchema,
  content: z.string().min(1).max(INPUT_LIMITS.contentMaxChars),
  clientMessageId: ClientMessageIdSchema,
});
export type SendInput = z.input<typeof SendInputSchema>;

/** `chat.history` input: oldest first, paging forwards from `cursor`. */
export const HistoryInputSchema = z.object({
  threadId: ThreadIdSchema,
  cursor: cursor.optional(),
  limit: limit.optional(),
});
export type HistoryInput = z.input<typeof HistoryInputSchema>;

/** `chat.cancel` input. */
export const CancelInputSchema = z.object({ runId: RunIdSchema });
export type CancelInput = z.input<typeof CancelInputSchema>;

/** `agent.run` input. */
export const GetRunInputSchema = z.object({ runId: RunIdSchema });
export type GetRunInput = z.input<typeof GetRunInputSchema>;

/**
 * `agent.events` input. Without `lastEventId` the stream starts live at the current end
 * of the thread's stream; with one it resumes right after it.
 */
export const EventsInputSchema = z.object({
  threadId: ThreadIdSchema,
  lastEventId: z.string().max(INPUT_LIMITS.eventIdMaxChars).nullish(),
});
export type EventsInput = z.input<typeof EventsInputSchema>;

/**
 * A tracked event id, `epoch:seq`: a position in a thread's stream. Resume `agent.events`
 * right after it with `lastEventId`.
 */
export const EventIdSchema = z.string().regex(/^[0-9a-z]{1,32}:\d{1,15}$/, 'invalid event id');

/**
 * `chat.createThread` output: the thread, and the position of its (empty) stream, so a client
 * can subscribe from it at once, before any event exists, and miss nothing.
 */
export const CreateThreadOutputSchema = ThreadSchema.extend({ lastEventId: EventIdSchema });
export type CreateThreadOutput = z.infer<typeof CreateThreadOutputSchema>;

/** `chat.listThreads` output: newest first; `nextCursor` is null on the last page. */
export const ListThreadsOutputSchema = z.object({
  items: z.array(ThreadSchema),
  nextCursor: z.string().nullable(),
});
export type ListThreadsOutput = z.infer<typeof ListThreadsOutputSchema>;

/**
 * `chat.send` output: the stored user message, the run it started and `lastEventId`, the
 * position after which that run's first event comes. Subscribing to `agent.events` with it
 * gets every event of the run (and any event of other runs after it) even when the run began
 * before the subscription: no `stream_position` frame needs to arrive first.
 */
export const SendOutputSchema = z.object({
  message: MessageSchema,
  run: RunSchema,
  lastEventId: EventIdSchema,
});
export type SendOutput = z.infer<typeof SendOutputSchema>;

/**
 * `chat.history` output: one page of messages, oldest first, and `lastEventId`, the stream
 * position that matches the messages returned (subscribe from it: no gap, no double).
 */
export const HistoryOutputSchema = z.object({
  items: z.array(MessageSchema),
  nextCursor: z.string().nullable(),
  lastEventId: EventIdSchema,
  /** The agent that answers the thread. */
  agent: z.string(),
});
export type HistoryOutput = z.infer<typeof HistoryOutputSchema>;
