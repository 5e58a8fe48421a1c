/**
 * The adapter's options and the types its parts share.
 * @module
 */
import type { DeliverySink } from '../../events/flowControl.js';
import type { LimitName } from '../../limits/counters.js';
import type { Connection, ConnectionRegistry } from '../connections.js';
import type { FrameLimits } from './frameGuard.js';
import type { PlainValueFraming } from './frames.js';
import type { AnyTRPCRouter, RequestId, RootConfig, TRPCError } from './trpcProtocol.js';

/** What `createContext` gets: once per connection, as with tRPC's adapter. */
export interface WsContextOptions {
  /** The `connectionParams` message's data, or null when the client announced none. */
  connectionParams: Partial<Record<string, string>> | null;
  /** The connection as the registry tracks it (state, user, deadlines). */
  connection: Connection;
}

/** The kind of call an error belongs to (`unknown`: the connection or a frame as a whole). */
export type CallType = 'query' | 'mutation' | 'subscription' | 'unknown';

/** What `onError` gets: the same fields tRPC's adapter reports. */
export interface WsErrorInfo<TCtx> {
  error: TRPCError;
  type: CallType;
  path: string | undefined;
  input: unknown;
  ctx: TCtx | undefined;
}

/** Limits of the endpoint (shared by every connection). */
export interface WsLimits extends FrameLimits {
  /** Calls in one batch frame; a larger batch is refused whole, every call answered. */
  maxBatchSize: number;
  /** Time from the upgrade to an accepted `connectionParams` frame (close AUTH_TIMEOUT). */
  authTimeoutMs: number;
  /** Sockets waiting to authenticate at once; past it the one waiting longest is let go. */
  maxUnauthenticated: number;
  /**
   * Bytes of query and mutation answers that may wait unsent on one connection: an answer
   * that would pass it is replaced by a PAYLOAD_TOO_LARGE error.
   */
  responseBudgetBytes: number;
  /** Unsent bytes above which the connection stops reading requests (and waits to drain). */
  highWaterBytes: number;
  /** Stuck above the high-water mark this long after an answer: close SLOW_CONSUMER. */
  slowConsumerTimeoutMs: number;
}

/** Options of {@link createTrpcWsEndpoint}. */
export interface TrpcWsOptions<TCtx> {
  router: AnyTRPCRouter;
  /**
   * Makes the connection's context once its credentials are known. Throwing refuses the
   * connection: the error is sent (`id: null`) and the socket closed, as tRPC does, unless
   * the function closed it first with a code of its own.
   */
  createContext(opts: WsContextOptions): TCtx | Promise<TCtx>;
  /** The context a subscription's procedure runs with, given the subscription's own sink. */
  subscriptionContext?(ctx: TCtx, sink: DeliverySink): TCtx;
  /** Errors of calls, subscriptions and the connection (never throws into the adapter). */
  onError?(info: WsErrorInfo<TCtx>): void;
  /** Tracks every connection: state, keepalive, auth deadline, expiry. */
  registry: ConnectionRegistry;
  limits: WsLimits;
  /** Frames a plain-JSON value from its text (see {@link PlainValueFraming}). */
  plainValueFraming?: PlainValueFraming;
  /** Counts a refusal. */
  onRefusal?(limit: LimitName): void;
  /**
   * A new socket, before anything is read from it; returning false refuses it (the callee
   * closed it with its code).
   */
  admitSocket?(connection: Connection): boolean;
  /** A connection was closed SLOW_CONSUMER because its answers stayed unsent. */
  onSlowConsumer?(connection: Connection): void;
}

/** What every connection of one endpoint shares: options and the router's config. */
export interface EndpointState<TCtx> {
  readonly opts: TrpcWsOptions<TCtx>;
  readonly config: RootConfig;
}

/** What an error report is about: a call, a subscription, or the connection (`unknown`). */
export interface ErrorSubject {
  id: RequestId | null;
  jsonrpc: '2.0' | undefined;
  type: CallType;
  path: string | undefined;
  input: unknown;
}

/** The subject of errors that belong to the connection or a whole frame. */
export const CONNECTION: ErrorSubject = {
  id: null,
  jsonrpc: undefined,
  type: 'unknown',
  path: undefined,
  input: undefined,
};

/** What the parts of a connection (calls, subscriptions, dispatch) need of it. */
export interface ConnectionHost<TCtx> {
  readonly endpoint: EndpointState<TCtx>;
  /** The connection's context, once made (rejects with why it could not be). */
  context(): Promise<TCtx>;
  isOpen(): boolean;
  /** Bytes written to the socket and not yet sent. */
  bufferedAmount(): number;
  /** Reports an error to `onError`; returns it as a TRPCError. */
  report(subject: ErrorSubject, cause: unknown): TRPCError;
  /** Reports, then answers with the error's shape. */
  respondWithError(subject: ErrorSubject, cause: unknown): void;
}

/** One call (query or mutation) as parsed from a frame. */
export interface CallInfo {
  id: RequestId;
  jsonrpc: '2.0' | undefined;
  type: 'query' | 'mutation';
  path: string;
  input: unknown;
  batchIndex: number;
}
