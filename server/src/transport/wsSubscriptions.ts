/**
 * The `subscription` and `subscription.stop` messages of tRPC's WebSocket protocol, served
 * beside tRPC's adapter, which keeps everything else (queries, mutations, `connectionParams`,
 * malformed frames, batches over the limit, `PING`).
 *
 * Why: the adapter holds about 10 KB per open subscription (an async function per message with
 * its `using` scopes, an AbortController, the iterator's disposable, an Unpromise raced per
 * item, and, with tracing on, the async-hooks fields of each of some twenty pending promises).
 * Here a subscription is one record and one loop. The call is the same (`callProcedure`: every
 * middleware, with the subscription's `signal`), and so are the frames (`started`, `data` with
 * the tracked id, `stopped`, error shapes from `getErrorShape` and the router's transformer,
 * written by the same encoder) and the `onError` reports.
 *
 * Differences from the adapter: a procedure must return an async iterable (the adapter also
 * takes observables; the router has none), and a stopped subscription ends when its iterable
 * does: the stop aborts the procedure's `signal` and calls the iterator's `return()`.
 * @module
 */
import type { AnyTRPCRouter } from '@trpc/server';
import {
  type AnyRootTypes,
  type RootConfig,
  TRPC_ERROR_CODES_BY_KEY,
  TRPCError,
  callProcedure,
  getErrorShape,
  getTRPCErrorFromUnknown,
  isAbortError,
  isAsyncIterable,
  isTrackedEnvelope,
  parseTRPCMessage,
  transformTRPCResponse,
} from '@trpc/server/unstable-core-do-not-import';
import type { WebSocket } from 'ws';
import type { FrameDiverter } from './frameGuard.js';
import type { WireEncoder } from './wsEncoder.js';

/** What `onError` gets: the adapter's report for a subscription. */
export interface SubscriptionErrorInfo<TCtx> {
  error: TRPCError;
  path: string | undefined;
  type: 'subscription';
  ctx: TCtx | undefined;
  input: unknown;
}

/** Settings shared by every connection of a server. */
export interface SubscriptionServerOptions<TCtx> {
  router: AnyTRPCRouter;
  encoder: WireEncoder;
  /** The adapter's `maxBatchSize`: a larger batch is left whole to the adapter, which refuses it. */
  maxBatchSize: number;
  /** The adapter's `onError`, called for the same errors. */
  onError(info: SubscriptionErrorInfo<TCtx>): void;
}

type RequestId = string | number;

/** The procedure was not called: the subscription was stopped, or its socket closed, first. */
const NOT_CALLED = Symbol('not called');

/** What the adapter answers when an error cannot be formatted (the formatter threw). */
const FALLBACK_ERROR_SHAPE = {
  code: TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};

/** One subscription of a connection, from its message to its `stopped`. */
class Subscription {
  readonly id: RequestId;
  readonly jsonrpc: '2.0' | undefined;
  readonly path: string;
  readonly input: unknown;
  readonly batchIndex: number;
  readonly controller = new AbortController();
  iterator: AsyncIterator<unknown> | null = null;

  constructor(call: Pick<Subscription, 'id' | 'jsonrpc' | 'path' | 'input' | 'batchIndex'>) {
    this.id = call.id;
    this.jsonrpc = call.jsonrpc;
    this.path = call.path;
    this.input = call.input;
    this.batchIndex = call.batchIndex;
  }

  /**
   * `subscription.stop`, or the connection closed: aborts the procedure's signal and asks the
   * iterator to return; the loop then ends and says `stopped`. Returns `return()`'s promise.
   */
  stop(): Promise<unknown> | undefined {
    if (this.controller.signal.aborted) return undefined;
    this.controller.abort();
    return this.iterator?.return?.();
  }
}

/** A parsed message this module serves, or null for one left to the adapter. */
function subscriptionMessage(
  raw: unknown,
  batchIndex: number,
  router: AnyTRPCRouter,
): Subscription | { stop: true; id: RequestId } | null {
  const msg = parseTRPCMessage(raw, router._def._config.transformer);
  if (msg.id === null) return null; // the adapter answers it (`id` is required)
  if (msg.method === 'subscription.stop') return { stop: true as const, id: msg.id };
  if (msg.method !== 'subscription') return null;
  const { path, lastEventId } = msg.params;
  let input = msg.params.input;
  // As the adapter does: the client's last event id joins the input.
  if (lastEventId !== undefined) {
    input = isPlainRecord(input) ? { ...input, lastEventId } : (input ?? { lastEventId });
  }
  return new Subscription({ id: msg.id, jsonrpc: msg.jsonrpc, path, input, batchIndex });
}

const isPlainRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The subscriptions of one connection. Frames reach it through the frame guard
 * ({@link FrameDiverter}); until the connection's context exists (credentials are still being
 * checked) its subscriptions wait, as the adapter's do.
 */
export class ConnectionSubscriptions<TCtx> implements FrameDiverter {
  readonly #socket: WebSocket;
  readonly #opts: SubscriptionServerOptions<TCtx>;
  readonly #subs = new Map<RequestId, Subscription>();
  #ctx: TCtx | undefined = undefined;
  /** Subscriptions that arrived before the context: started by {@link activate}. */
  #waiting: Subscription[] | null = [];
  /** Why the context could not be made: later subscriptions are refused with it. */
  #failure: { cause: unknown } | null = null;

  constructor(socket: WebSocket, opts: SubscriptionServerOptions<TCtx>) {
    this.#socket = socket;
    this.#opts = opts;
  }

  /** Open subscriptions (for tests and metrics). */
  get size(): number {
    return this.#subs.size;
  }

  /**
   * Takes the frame's subscription messages: returns undefined to leave the frame to the
   * adapter as it is, null when nothing is left for it, or the text of what is left.
   * A frame the adapter would refuse as a whole (bad JSON, an invalid message in it, a batch
   * over the limit) is left to it whole, so that it answers as it always does.
   */
  take(text: string): string | null | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    const batch = Array.isArray(parsed);
    const list: unknown[] = batch ? (parsed as unknown[]) : [parsed];
    if (batch && list.length > this.#opts.maxBatchSize) return undefined;
    const mine: (Subscription | { stop: true; id: RequestId })[] = [];
    const rest: unknown[] = [];
    try {
      for (const [index, raw] of list.entries()) {
        const msg = subscriptionMessage(raw, index, this.#opts.router);
        // A stop for an id this does not hold is the adapter's (it answers nothing).
        if (msg === null || (!(msg instanceof Subscription) && !this.#subs.has(msg.id)))
          rest.push(raw);
        else mine.push(msg);
      }
    } catch {
      return undefined; // the adapter answers PARSE_ERROR for the frame
    }
    if (mine.length === 0) return undefined;
    for (const msg of mine) {
      if (msg instanceof Subscription) this.#open(msg);
      else this.#stop(this.#subs.get(msg.id));
    }
    if (rest.length === 0) return null;
    return JSON.stringify(batch ? rest : rest[0]);
  }

  /** The connection's context exists: waiting subscriptions start. */
  activate(ctx: TCtx): void {
    this.#ctx = ctx;
    const waiting = this.#waiting ?? [];
    this.#waiting = null;
    for (const sub of waiting) this.#start(sub);
  }

  /** The context could not be made (the adapter closes the connection): waiting ones fail. */
  fail(cause: unknown): void {
    const waiting = this.#waiting ?? [];
    this.#waiting = null;
    this.#failure = { cause };
    for (const sub of waiting) {
      this.#subs.delete(sub.id);
      this.#respondWithError(sub, cause);
    }
  }

  /** The socket closed: every subscription stops (nothing more is written). */
  closeAll(): void {
    this.#waiting = null;
    for (const sub of this.#subs.values()) this.#stop(sub);
    this.#subs.clear();
  }

  #stop(sub: Subscription | undefined): void {
    sub?.stop()?.catch((cause: unknown) => this.#report(sub, cause));
  }

  #open(sub: Subscription): void {
    if (this.#subs.has(sub.id)) {
      this.#respondWithError(
        sub,
        new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${sub.id}` }),
      );
      return;
    }
    if (this.#socket.readyState !== this.#socket.OPEN) return;
    if (this.#failure) return this.#respondWithError(sub, this.#failure.cause);
    this.#subs.set(sub.id, sub);
    if (this.#waiting) this.#waiting.push(sub);
    else this.#start(sub);
  }

  /** Nothing awaits a subscription: whatever escapes it is reported, never a crash. */
  #start(sub: Subscription): void {
    this.#run(sub).catch((cause: unknown) => this.#report(sub, cause));
  }

  /** Calls the procedure, then writes what it yields until it ends or is stopped. */
  async #run(sub: Subscription): Promise<void> {
    const { signal } = sub.controller;
    try {
      let iterable: unknown = NOT_CALLED;
      try {
        // Stopped (or the socket closed) before it started: only `stopped` (as the adapter).
        if (!signal.aborted && this.#socket.readyState === this.#socket.OPEN)
          iterable = await callProcedure({
            router: this.#opts.router,
            path: sub.path,
            getRawInput: () => Promise.resolve(sub.input),
            ctx: this.#ctx,
            type: 'subscription',
            signal,
            batchIndex: sub.batchIndex,
          });
        if (iterable !== NOT_CALLED && !isAsyncIterable(iterable)) {
          throw new TRPCError({
            code: 'INTERNAL_SERVER_ERROR',
            message: `Subscription ${sub.path} did not return an observable or a AsyncGenerator`,
          });
        }
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        if (!isCancelledSetup(error, signal)) this.#respondWithError(sub, error);
        return; // the adapter sends no `stopped` after a failed start
      }
      if (iterable !== NOT_CALLED) await this.#iterate(sub, iterable[Symbol.asyncIterator]());
      this.#respond({ id: sub.id, jsonrpc: sub.jsonrpc, result: { type: 'stopped' } });
    } finally {
      if (this.#subs.get(sub.id) === sub) this.#subs.delete(sub.id);
    }
  }

  async #iterate(sub: Subscription, iterator: AsyncIterator<unknown>): Promise<void> {
    const { signal } = sub.controller;
    sub.iterator = iterator;
    let completed = false;
    let failure: { cause: unknown } | null = null;
    if (!signal.aborted && this.#socket.readyState === this.#socket.OPEN) {
      this.#respond({ id: sub.id, jsonrpc: sub.jsonrpc, result: { type: 'started' } });
      try {
        for (;;) {
          const next = await iterator.next();
          if (signal.aborted) break;
          if (next.done) {
            completed = true;
            break;
          }
          this.#respond({ id: sub.id, jsonrpc: sub.jsonrpc, result: dataResult(next.value) });
        }
      } catch (cause) {
        // After a stop the iterable may end by throwing (an AbortError is the expected way).
        if (!signal.aborted) failure = { cause };
        else if (!isAbortError(getTRPCErrorFromUnknown(cause).cause)) this.#report(sub, cause);
      }
    }
    if (!completed) sub.controller.abort();
    try {
      await iterator.return?.();
    } catch (cause) {
      if (failure) this.#report(sub, cause);
      else failure = { cause };
    }
    if (failure) this.#respondWithError(sub, failure.cause);
  }

  #respond(msg: Parameters<typeof transformTRPCResponse>[1]): void {
    const socket = this.#socket;
    if (socket.readyState !== socket.OPEN) return;
    const config = this.#opts.router._def._config as RootConfig<AnyRootTypes>;
    socket.send(this.#opts.encoder.encode(transformTRPCResponse(config, msg)));
  }

  #report(sub: Subscription, cause: unknown): TRPCError {
    const error = getTRPCErrorFromUnknown(cause);
    try {
      this.#opts.onError({
        error,
        path: sub.path,
        type: 'subscription',
        ctx: this.#ctx,
        input: sub.input,
      });
    } catch {
      // onError runs where nothing awaits; a failing one must not end the connection.
    }
    return error;
  }

  #respondWithError(sub: Subscription, cause: unknown): void {
    const error = this.#report(sub, cause);
    let shape: unknown = FALLBACK_ERROR_SHAPE;
    try {
      shape = getErrorShape({
        config: this.#opts.router._def._config,
        error,
        type: 'subscription',
        path: sub.path,
        input: sub.input,
        ctx: this.#ctx,
      });
    } catch (formatError) {
      this.#report(sub, formatError);
    }
    this.#respond({ id: sub.id, jsonrpc: sub.jsonrpc, error: shape as never });
  }
}

/** A procedure that gave up because its subscription was stopped: not an error (as the adapter). */
const isCancelledSetup = (error: TRPCError, signal: AbortSignal) =>
  signal.aborted && error.code === 'INTERNAL_SERVER_ERROR' && isAbortError(error.cause);

/** The adapter's data result: a tracked event carries its id twice (resume and dedup). */
function dataResult(value: unknown) {
  if (!isTrackedEnvelope(value)) return { type: 'data' as const, data: value };
  const [id, data] = value;
  return { type: 'data' as const, id, data: { id, data } };
}
