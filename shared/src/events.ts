import { z } from 'zod';
import { MessageIdSchema, RunIdSchema, ThreadIdSchema, ToolCallIdSchema } from './ids.js';
import { MessageSchema } from './models.js';

/**
 * Why a run ended without an answer. Closed set; clients switch on it.
 *
 * - `CANCELLED`: `chat.cancel`. `TIMEOUT`: the run's time limit. `SHUTDOWN`: the server stopped.
 * - `TOOL_FAILED`: the agent gave up after a failed tool call.
 * - `RATE_LIMITED`: the model endpoint kept answering 429 (retryable: wait, send again).
 * - `UPSTREAM_ERROR`: the model endpoint failed or sent something the agent cannot use (a 5xx
 *   or reset after retries, a stream cut after text was shown, an error page, a truncated
 *   answer); `retryable` says whether sending again may help.
 * - `MISCONFIGURED`: the model endpoint refused the server's credentials or model (401, 403,
 *   404): an operator must fix the configuration.
 * - `STEP_LIMIT`: the model still asked for tools after the agent's maximum number of steps.
 * - `INTERNAL`: anything else.
 * - `INSTANCE_LOST`: the instance running the run died (cluster mode) and a survivor ended it;
 *   retryable.
 */
export const AGENT_ERROR_CODES = [
  'CANCELLED',
  'TIMEOUT',
  'TOOL_FAILED',
  'SHUTDOWN',
  'RATE_LIMITED',
  'UPSTREAM_ERROR',
  'MISCONFIGURED',
  'STEP_LIMIT',
  'INTERNAL',
  'INSTANCE_LOST',
] as const;
export const AgentErrorCodeSchema = z.enum(AGENT_ERROR_CODES);
export type AgentErrorCode = z.infer<typeof AgentErrorCodeSchema>;

/** Trace context a producer attaches to an event (W3C trace context). Stripped by the SDK. */
export const EventMetaSchema = z.object({
  traceparent: z.string().max(128).optional(),
  tracestate: z.string().max(512).optional(),
});
export type EventMeta = z.infer<typeof EventMetaSchema>;

/** Fields every agent event carries. `seq` is per thread, monotonic, gap-free within an epoch. */
const base = {
  threadId: ThreadIdSchema,
  runId: RunIdSchema,
  /** Stream epoch: changes when the thread's retained history can no longer be trusted. */
  epoch: z.string(),
  /** Position in the thread's stream, starting at 1, +1 per event. */
  seq: z.number().int().positive(),
  /** Creation time, ms since the Unix epoch. */
  ts: z.number(),
  _meta: EventMetaSchema.optional(),
};

/** A run began. Always the first event of a run. */
export const AgentStartedEventSchema = z.object({
  ...base,
  type: z.literal('agent_started'),
  agent: z.string(),
  /** The user message that started the run. */
  messageId: MessageIdSchema,
});
/** Reasoning text (may arrive in several chunks). */
export const AgentThinkingEventSchema = z.object({
  ...base,
  type: z.literal('agent_thinking'),
  text: z.string(),
});
/** A chunk of the answer text; concatenated in order they form the final message. */
export const MessageDeltaEventSchema = z.object({
  ...base,
  type: z.literal('message_delta'),
  delta: z.string(),
});
/** A tool call began. */
export const ToolExecutingEventSchema = z.object({
  ...base,
  type: z.literal('tool_executing'),
  toolCallId: ToolCallIdSchema,
  tool: z.string(),
  args: z.unknown(),
});
const toolCompleted = {
  ...base,
  type: z.literal('tool_completed'),
  toolCallId: ToolCallIdSchema,
  tool: z.string(),
  durationMs: z.number(),
};
/** A tool call ended with a result (`ok: true`). */
export const ToolSucceededEventSchema = z.object({
  ...toolCompleted,
  ok: z.literal(true),
  /** What the tool returned (absent on the wire when it returned nothing). */
  result: z.unknown().optional(),
});
/** A tool call ended with an error (`ok: false`). */
export const ToolFailedEventSchema = z.object({
  ...toolCompleted,
  ok: z.literal(false),
  error: z.object({ code: z.string(), message: z.string() }),
});
/**
 * A tool call ended: a union on `ok`, so `event.ok ? event.result : event.error.message`
 * narrows in strict mode.
 */
export const ToolCompletedEventSchema = z.discriminatedUnion('ok', [
  ToolSucceededEventSchema,
  ToolFailedEventSchema,
]);
/** The run ended with an answer. Terminal. */
export const AgentCompletedEventSchema = z.object({
  ...base,
  type: z.literal('agent_completed'),
  message: MessageSchema,
});
/** The run ended without an answer. Terminal. */
export const AgentErrorEventSchema = z.object({
  ...base,
  type: z.literal('agent_error'),
  code: AgentErrorCodeSchema,
  message: z.string(),
  /** True when sending the message again may succeed. */
  retryable: z.boolean(),
});

/** Everything a run emits, discriminated on `type`. A run ends with exactly one terminal event. */
export const AgentEventSchema = z.discriminatedUnion('type', [
  AgentStartedEventSchema,
  AgentThinkingEventSchema,
  MessageDeltaEventSchema,
  ToolExecutingEventSchema,
  ToolCompletedEventSchema,
  AgentCompletedEventSchema,
  AgentErrorEventSchema,
]);
export type AgentEvent = z.infer<typeof AgentEventSchema>;
export type AgentEventType = AgentEvent['type'];
/** The event of one `type`. */
export type AgentEventOf<TType extends AgentEventType> = Extract<AgentEvent, { type: TType }>;

/** Why a stream could not be resumed where the client asked. */
export const ResyncReasonSchema = z.enum([
  /** The client's position is older than the retained history. */
  'retention',
  /** The stream's epoch changed (store reset or history cut). */
  'epoch_changed',
  /** The client's position is ahead of the stream or malformed. */
  'invalid_position',
]);
export type ResyncReason = z.infer<typeof ResyncReasonSchema>;

/**
 * Control event: the requested position cannot be resumed. The app must reload history
 * (`chat.history`) and subscribe from its `lastEventId`. No replay follows a resync;
 * the stream continues live from `headSeq`.
 */
export const ResyncEventSchema = z.object({
  type: z.literal('resync'),
  threadId: ThreadIdSchema,
  reason: ResyncReasonSchema,
  epoch: z.string(),
  /** Oldest seq still retained (0 when none). */
  firstAvailableSeq: z.number().int().nonnegative(),
  /** Last seq written when the stream opened. */
  headSeq: z.number().int().nonnegative(),
  ts: z.number(),
});
export type ResyncEvent = z.infer<typeof ResyncEventSchema>;

/**
 * Control event: the stream's position when it opened (first frame of a subscription
 * started without `lastEventId`). Its tracked id lets any tRPC client resume from there
 * after a drop that happens before the first agent event.
 */
export const StreamPositionEventSchema = z.object({
  type: z.literal('stream_position'),
  threadId: ThreadIdSchema,
  epoch: z.string(),
  headSeq: z.number().int().nonnegative(),
  ts: z.number(),
});
export type StreamPositionEvent = z.infer<typeof StreamPositionEventSchema>;

/** What `agent.events` yields: agent events plus the two control events. */
export const StreamEventSchema = z.discriminatedUnion('type', [
  ...AgentEventSchema.options,
  ResyncEventSchema,
  StreamPositionEventSchema,
]);
export type StreamEvent = z.infer<typeof StreamEventSchema>;

/** Event types that end a run. */
export const TERMINAL_EVENT_TYPES = ['agent_completed', 'agent_error'] as const;

/** True for `agent_completed` and `agent_error`. */
export const isTerminalEvent = (
  event: StreamEvent,
): event is AgentEventOf<'agent_completed'> | AgentEventOf<'agent_error'> =>
  event.type === 'agent_completed' || event.type === 'agent_error';

/** True for agent events (not control events). */
export const isAgentEvent = (event: StreamEvent): event is AgentEvent =>
  event.type !== 'resync' && event.type !== 'stream_position';

/** Event types that are never dropped or coalesced under backpressure. */
export const isCriticalEvent = (event: StreamEvent): boolean => event.type !== 'message_delta';

/** Position in a thread's stream: the tracked event id is `${epoch}:${seq}`. */
export interface StreamPosition {
  epoch: string;
  seq: number;
}

/** Formats a position as the tracked event id. */
export const formatEventId = (pos: StreamPosition): string => `${pos.epoch}:${pos.seq}`;

/** Parses a tracked event id; `null` when malformed. */
export function parseEventId(id: string): StreamPosition | null {
  const m = /^([0-9a-z]{1,32}):(\d{1,15})$/.exec(id);
  if (!m) return null;
  return { epoch: m[1]!, seq: Number(m[2]) };
}
