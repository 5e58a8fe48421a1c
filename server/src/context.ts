import type { AppError, CallMeta } from '@tracewire/shared';
import type { Logger } from 'pino';
import type { Principal } from './auth/tokens.js';
import type { DeliverySink } from './events/flowControl.js';
import type { ResponseBudget } from './limits/responseBudget.js';
import type { Services } from './services.js';

/** How a call arrived. */
export type Transport = 'http' | 'sse' | 'ws' | 'internal';

/**
 * Context created per HTTP request, per SSE stream, or once per WebSocket connection.
 * Never carries anything taken from the client without verification.
 */
export interface BaseContext {
  services: Services;
  transport: Transport;
  /** Verified caller, or null when no valid token was presented. */
  principal: Principal | null;
  /** Why authentication failed (reported per call as UNAUTHORIZED). */
  authError: AppError | null;
  /** Connection id (WS) or null. */
  connectionId: string | null;
  /**
   * Where a subscription's events go: on WebSocket the subscription's own writer (set per
   * subscription call by the adapter), on SSE the response; null for other calls and in process.
   */
  sink: DeliverySink | null;
  /**
   * Bytes the answers of this request may hold (one per HTTP request); absent: no budget
   * (in-process callers, and transports that bound what they send another way).
   */
  responseBudget?: ResponseBudget;
}

/** Context inside a procedure, after the per-call middleware. */
export interface CallContext extends BaseContext {
  /** This call's request id (from `_meta.requestId` when valid, else generated). */
  requestId: string;
  /** Validated per-call metadata (`_meta`), trace context included. */
  meta: CallMeta;
  /** Logger bound to request_id and user_id. */
  log: Logger;
}
