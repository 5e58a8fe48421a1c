/**
 * One WebSocket connection of the adapter: the `connectionParams` handshake and the
 * connection's context, inbound screening, the dispatch of tRPC's messages to calls and
 * subscriptions, and every frame written back, in tRPC's exact format.
 *
 * Until its context exists a connection reads at most the chunk that carried its credentials:
 * reading pauses at the `connectionParams` frame (or at once when none is announced) and
 * resumes once the context is made, so a socket that has not authenticated cannot make the
 * server hold more than that.
 * @module
 */
import type { Duplex } from 'node:stream';
import { CLOSE_CODES } from '@tracewire/shared';
import type { WebSocket } from 'ws';
import type { Connection } from '../connections.js';
import { batchTick } from '../writeBatch.js';
import type { CallHost } from './calls.js';
import { Congestion } from './congestion.js';
import { dispatchFrame, type DispatchHost } from './dispatch.js';
import { encodeResponse } from './frames.js';
import { FrameGuard, isRefusal, preAuthOverflow, type Refusal } from './frameGuard.js';
import type { Subscription, SubscriptionHost } from './subscription.js';
import {
  FALLBACK_ERROR_SHAPE,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  parseConnectionParamsFromUnknown,
  TRPCError,
  type RequestId,
  type TRPCErrorShape,
  type TRPCResponseMessage,
} from './trpcProtocol.js';
import { CONNECTION, type EndpointState, type ErrorSubject } from './types.js';

/** How long a refused, unread socket keeps its TCP connection after the close frame. */
const UNREAD_CLOSE_GRACE_MS = 500;

/** Options of a {@link WsConnection}. */
export interface WsConnectionParts<TCtx> {
  endpoint: EndpointState<TCtx>;
  ws: WebSocket;
  /** The upgraded TCP socket `ws` writes to: corked per turn, counted before auth. */
  socket: Duplex;
  conn: Connection;
  /** The client announced `?connectionParams=1`: its first frame carries its credentials. */
  expectsParams: boolean;
}

/**
 * The adapter's state for one socket. A class with prototype methods: its listeners are the
 * only closures per connection, and tens of thousands of idle connections are held at once.
 */
export class WsConnection<TCtx>
  implements SubscriptionHost<TCtx>, CallHost<TCtx>, DispatchHost<TCtx>
{
  readonly endpoint: EndpointState<TCtx>;
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  readonly #conn: Connection;
  readonly #guard: FrameGuard;
  #awaitingParams: boolean;
  #context: Promise<TCtx> | null = null;
  #ctx: TCtx | undefined = undefined;
  #subs: Map<RequestId, Subscription<TCtx>> | null = null;
  #congestion: Congestion | null = null;
  /** Bytes read before the credentials arrived; its listener exists only until then. */
  #preAuthBytes = 0;
  #onPreAuthData: ((chunk: Buffer) => void) | null = null;

  constructor(parts: WsConnectionParts<TCtx>) {
    this.endpoint = parts.endpoint;
    this.#ws = parts.ws;
    this.#socket = parts.socket;
    this.#conn = parts.conn;
    this.#awaitingParams = parts.expectsParams;
    this.#guard = new FrameGuard(parts.endpoint.opts.limits);
    this.#ws.on('message', (data: unknown, isBinary: boolean) => this.#onMessage(data, isBinary));
    this.#ws.once('close', () => this.#onClose());
    this.#ws.on('error', (err: Error & { code?: string }) => this.#onSocketError(err));
    if (parts.expectsParams) {
      // Appended after `ws`'s own listener: a chunk is counted once `ws` has read it, so the
      // chunk that completes the credentials frame is not counted against it.
      this.#onPreAuthData = (chunk) => this.#countPreAuth(chunk.length);
      this.#socket.on('data', this.#onPreAuthData);
    } else {
      this.#startContext(null);
    }
  }

  /** The connection's context; rejects when it could not be made. */
  context(): Promise<TCtx> {
    return this.#context ?? Promise.reject(new TRPCError({ code: 'INTERNAL_SERVER_ERROR' }));
  }

  isOpen(): boolean {
    return this.#ws.readyState === this.#ws.OPEN;
  }

  bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /** Writes a frame; the frames of one event-loop turn leave in one write (see batchTick). */
  send(text: string): void {
    batchTick(this.#socket);
    this.#ws.send(text);
  }

  /** Writes a call's answer, then stops reading while the connection cannot keep up. */
  sendAnswer(text: string): void {
    this.send(text);
    const { limits } = this.endpoint.opts;
    if (this.#congestion === null && this.bufferedAmount() > limits.highWaterBytes)
      this.#congestion = new Congestion(this, this.#ws, this.#socket);
  }

  close(code: number, reason: string): void {
    this.#conn.close(code, reason);
  }

  /** The connection's answers stayed unsent too long: SLOW_CONSUMER. */
  closeSlow(): void {
    const { opts } = this.endpoint;
    opts.onRefusal?.('ws_slow_consumer');
    opts.onSlowConsumer?.(this.#conn);
    this.#conn.close(CLOSE_CODES.SLOW_CONSUMER, 'slow consumer: answers not read');
  }

  /** The connection drained after congestion: reading resumes. */
  drained(): void {
    this.#congestion = null;
  }

  /** The connection's subscriptions by id (made on first use). */
  subscriptions(): Map<RequestId, Subscription<TCtx>> {
    return (this.#subs ??= new Map<RequestId, Subscription<TCtx>>());
  }

  released(sub: Subscription<TCtx>): void {
    if (this.#subs?.get(sub.id) === sub) this.#subs.delete(sub.id);
  }

  report(subject: ErrorSubject, cause: unknown): TRPCError {
    const error = getTRPCErrorFromUnknown(cause);
    const { type, path, input } = subject;
    try {
      this.endpoint.opts.onError?.({ error, type, path, input, ctx: this.#ctx });
    } catch {
      // onError runs where nothing awaits it: a failing one must not end the connection.
    }
    return error;
  }

  respondWithError(subject: ErrorSubject, cause: unknown): void {
    const error = this.report(subject, cause);
    this.answerError(subject, error);
  }

  /** Answers with `error`'s shape (not reported again). */
  answerError(subject: ErrorSubject, error: TRPCError): void {
    if (!this.isOpen()) return;
    const { id, jsonrpc } = subject;
    let text: string;
    try {
      text = encodeResponse(this.endpoint.config, {
        id,
        jsonrpc,
        error: this.shapeOf(subject, error),
      });
    } catch (cause) {
      this.report(subject, cause);
      text = encodeResponse(this.endpoint.config, { id, jsonrpc, error: FALLBACK_ERROR_SHAPE });
    }
    this.send(text);
  }

  /** The error's shape from the router's formatter, or tRPC's fallback when that throws. */
  shapeOf(subject: ErrorSubject, error: TRPCError): TRPCErrorShape {
    try {
      const { type, path, input } = subject;
      const { config } = this.endpoint;
      return getTRPCErrorShape({
        config,
        error,
        type,
        path,
        input,
        ctx: this.#ctx,
      }) as TRPCErrorShape;
    } catch (cause) {
      this.report(subject, cause);
      return FALLBACK_ERROR_SHAPE;
    }
  }

  /** Writes a response message (nothing once the socket is closing). */
  answer(msg: TRPCResponseMessage): void {
    if (this.isOpen()) this.send(encodeResponse(this.endpoint.config, msg));
  }

  #refuse(refusal: Refusal): void {
    this.endpoint.opts.onRefusal?.(refusal.limit);
    this.#conn.close(refusal.code, refusal.reason);
    if (this.#ctx === undefined) this.#endUnread();
  }

  /**
   * A socket refused before it authenticated: nothing more is read from it (it could send
   * megabytes), and our side of the TCP connection ends right after the close frame, so the
   * client learns the code at once. Its answer to the close is never read, so the socket is
   * cut once the close frame has had time to arrive.
   */
  #endUnread(): void {
    this.#ws.pause();
    this.#socket.end();
    setTimeout(() => this.#ws.terminate(), UNREAD_CLOSE_GRACE_MS).unref();
  }

  #countPreAuth(bytes: number): void {
    if (!this.#awaitingParams) return;
    this.#preAuthBytes += bytes;
    const { limits } = this.endpoint.opts;
    if (this.#preAuthBytes > limits.preAuthBytes) {
      this.#stopCountingPreAuth();
      this.#refuse(preAuthOverflow(limits));
    }
  }

  #stopCountingPreAuth(): void {
    if (this.#onPreAuthData) this.#socket.off('data', this.#onPreAuthData);
    this.#onPreAuthData = null;
  }

  #onMessage(data: unknown, isBinary: boolean): void {
    const state = this.#conn.state;
    if (state === 'closing' || state === 'closed') return;
    // Any frame, even one refused below, shows the peer is alive (the keepalive's clock).
    this.#conn.heard();
    const screened = this.#guard.screen(data, isBinary, this.#awaitingParams);
    if (screened === 'ping') return this.send('PONG');
    if (screened === 'pong') return;
    if (isRefusal(screened)) return this.#refuse(screened);
    if (this.#awaitingParams) {
      this.#awaitingParams = false;
      this.#stopCountingPreAuth();
      this.#conn.authReceived();
      const msg = JSON.parse(screened.text) as { data?: unknown };
      return this.#startContext(() => parseConnectionParamsFromUnknown(msg.data ?? null));
    }
    dispatchFrame(this, screened.text);
  }

  /**
   * Makes the connection's context, reading nothing more meanwhile. A failure is reported,
   * answered with `id: null` and the socket closed (unless `createContext` closed it first).
   */
  #startContext(params: (() => Partial<Record<string, string>> | null) | null): void {
    this.#ws.pause();
    const { opts } = this.endpoint;
    const context = (async () => {
      try {
        const ctx = await opts.createContext({
          connectionParams: params ? params() : null,
          connection: this.#conn,
        });
        this.#ctx = ctx;
        if (this.#conn.state === 'authenticating') this.#conn.transition('active');
        if (this.#congestion === null) this.#ws.resume();
        return ctx;
      } catch (cause) {
        const error = this.report(CONNECTION, cause);
        this.answerError(CONNECTION, error);
        // As tRPC: closed on the next turn (at once when `createContext` closed it itself).
        setImmediate(() => {
          if (this.#conn.transition('closing')) this.#ws.close();
          this.#endUnread();
        });
        throw error;
      }
    })();
    context.catch(() => undefined); // each call that waits on it reports its own failure
    this.#context = context;
  }

  /** `ws` closes the socket itself (1009 past maxPayload, 1002/1007 for bad frames). */
  #onSocketError(err: Error & { code?: string }): void {
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
      this.endpoint.opts.onRefusal?.('ws_payload_too_large');
    else this.report(CONNECTION, err);
  }

  #onClose(): void {
    this.#stopCountingPreAuth();
    this.#congestion?.dispose();
    this.#congestion = null;
    const subs = this.#subs;
    this.#subs = null;
    if (subs) for (const sub of subs.values()) sub.stop();
  }
}
