/**
 * @module
 * The Tracewire contract shared by server and clients: ids, models, the agent event
 * union, inputs, errors, close codes and the wire transformer.
 */
export {
  ThreadIdSchema,
  MessageIdSchema,
  RunIdSchema,
  ToolCallIdSchema,
  UserIdSchema,
  ClientMessageIdSchema,
  createThreadId,
  createMessageId,
  createRunId,
  createToolCallId,
  createClientMessageId,
  createRequestId,
  createEpoch,
} from './ids.js';
export type { ThreadId, MessageId, RunId, ToolCallId, UserId, ClientMessageId } from './ids.js';
export {
  ThreadSchema,
  MessageSchema,
  MessageRoleSchema,
  RunSchema,
  RunStatusSchema,
  TERMINAL_RUN_STATUSES,
  isTerminalRunStatus,
} from './models.js';
export type { Thread, Message, MessageRole, Run, RunStatus } from './models.js';
export {
  AGENT_ERROR_CODES,
  AgentErrorCodeSchema,
  EventMetaSchema,
  AgentEventSchema,
  AgentStartedEventSchema,
  AgentThinkingEventSchema,
  MessageDeltaEventSchema,
  ToolExecutingEventSchema,
  ToolCompletedEventSchema,
  ToolSucceededEventSchema,
  ToolFailedEventSchema,
  AgentCompletedEventSchema,
  AgentErrorEventSchema,
  ResyncEventSchema,
  ResyncReasonSchema,
  StreamPositionEventSchema,
  StreamEventSchema,
  TERMINAL_EVENT_TYPES,
  isTerminalEvent,
  isAgentEvent,
  isCriticalEvent,
  formatEventId,
  parseEventId,
} from './events.js';
export type {
  AgentErrorCode,
  EventMeta,
  AgentEvent,
  AgentEventType,
  AgentEventOf,
  ResyncEvent,
  ResyncReason,
  StreamPositionEvent,
  StreamEvent,
  StreamPosition,
} from './events.js';
export {
  CallMetaSchema,
  CreateThreadInputSchema,
  ListThreadsInputSchema,
  SendInputSchema,
  HistoryInputSchema,
  CancelInputSchema,
  GetRunInputSchema,
  EventsInputSchema,
  EventIdSchema,
  CreateThreadOutputSchema,
  ListThreadsOutputSchema,
  SendOutputSchema,
  HistoryOutputSchema,
} from './api.js';
export type {
  CallMeta,
  CreateThreadInput,
  ListThreadsInput,
  SendInput,
  HistoryInput,
  CancelInput,
  GetRunInput,
  EventsInput,
  CreateThreadOutput,
  ListThreadsOutput,
  SendOutput,
  HistoryOutput,
} from './api.js';
export { PROCEDURES } from './procedures.js';
export type { ProcedureContract, ProcedurePath } from './procedures.js';
export {
  APP_ERROR_CODES,
  APP_TO_TRPC_CODE,
  AppError,
  appCodeFromTrpcCode,
  isRetryableAgentCode,
  isRetryableAppCode,
} from './errors.js';
export type { AppErrorCode, AppErrorData, TrpcErrorCodeKey } from './errors.js';
export { CLOSE_CODES, isReconnectableCloseCode, closeCodeName } from './closeCodes.js';
export type { CloseCode, CloseCodeName } from './closeCodes.js';
export { INPUT_LIMITS } from './limits.js';
export {
  STREAM_HOOKS,
  StreamHookList,
  hookStream,
  type HookableStream,
  type StreamHooks,
} from './streamHooks.js';
export {
  decodeWire,
  freezePlainJson,
  isPlainJson,
  plainJsonText,
  transformer,
  type SerializedValue,
} from './transformer.js';
export { WIRE_META_LIMITS, inspectWireMeta } from './wireMeta.js';
export type { WireMetaReport } from './wireMeta.js';
