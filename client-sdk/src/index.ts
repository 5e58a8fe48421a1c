/**
 * @module
 * `@tracewire/client`: the typed client of a Tracewire server. Create one with
 * {@link createTracewireClient}; use `client.trpc` for every procedure and the helpers
 * (`events`, `streamRun`, `send`) for delivery guarantees on top of tRPC.
 */
export { createTracewireClient } from './client.js';
export type {
  TracewireClient,
  TracewireClientOptions,
  TracewireTRPCClient,
  ClientStats,
} from './client.js';
export type { AppRouter } from './router.js';
export type { ThreadStream, EventsOptions } from './threadStream.js';
export type { RunStream, StreamRunOptions } from './streamRun.js';
export type { SendOptions } from './send.js';
export { isRetryableSendError } from './send.js';
export type {
  ConnectionStateChange,
  KeepAliveOptions,
  TransportMode,
  WebSocketConstructor,
  EventSourceConstructor,
} from './links.js';
export { DEFAULT_KEEP_ALIVE, endpointUrls } from './links.js';
export { createBackoff, DEFAULT_BACKOFF } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { createStreamTracker } from './streamTracker.js';
export type { StreamTracker, StreamFrame, TrackerStep } from './streamTracker.js';
export {
  isTracewireError,
  isConnectionError,
  isConnectionRefused,
  getErrorInfo,
  ConnectionRefusedError,
} from './errors.js';
export type { TracewireError, ErrorInfo } from './errors.js';
export type { ThreadEvent, RunEvent, SendResult, StreamStats, DistributiveOmit } from './types.js';
export {
  createClientMessageId,
  formatEventId,
  parseEventId,
  isTerminalEvent,
  CLOSE_CODES,
  isReconnectableCloseCode,
} from '@tracewire/shared';
export type {
  AgentEvent,
  AgentEventOf,
  AgentEventType,
  AgentErrorCode,
  ResyncEvent,
  ResyncReason,
  Thread,
  Message,
  Run,
  RunStatus,
  ThreadId,
  MessageId,
  RunId,
  ClientMessageId,
  AppErrorCode,
  AppErrorData,
  CloseCode,
} from '@tracewire/shared';
