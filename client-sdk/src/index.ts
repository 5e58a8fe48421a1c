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
export type { ClientState, ConnectionStatus } from './availability.js';
export { DEFAULT_CONNECT_TIMEOUT_MS } from './availability.js';
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
  ConnectionUnavailableError,
  isConnectionUnavailable,
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
  StreamEvent,
  StreamPositionEvent,
  CreateThreadOutput,
  ListThreadsOutput,
  SendOutput,
  HistoryOutput,
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

// The SDK's types use `Symbol.asyncDispose` (`await using client = …`). Declared here as
// @types/node does, so a browser-only project (`lib: ["ES2022", "DOM"]`, no esnext.disposable)
// type-checks the published declarations, tRPC's included, with `skipLibCheck: false`. They
// merge with TypeScript's own declarations where those are loaded.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
    readonly asyncDispose: unique symbol;
  }
  interface Disposable {
    [Symbol.dispose](): void;
  }
  interface AsyncDisposable {
    [Symbol.asyncDispose](): PromiseLike<void>;
  }
}
