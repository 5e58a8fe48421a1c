/**
 * One subscription of a connection, from its `subscription` message to its `stopped`: the
 * procedure's call, then what it yields, written by the subscription's own writer. The writer
 * knows the subscription's wire id, so the stream it serves can write its events itself (the
 * `DeliverySink` the procedure gets) or have them pulled and written here; either way one
 * writer frames them, exactly as tRPC's adapter does.
 * @module
 */
import { uncorkSoon } from '../writeBatch.js';
import type { DeliverySink } from '../../events/flowControl.js';
import type { StreamEvent } from '@tracewire/shared';
import {
  dataResult,
  encodeResponse,
  frameHead,
  trackedFrameText,
  trackedValueText,
} from './frames.js';
import {
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  isAbortError,
  isAsyncIterable,
  isObservable,
  isTrackedEnvelope,
  observableToAsyncIterable,
  TRPCError,
  type RequestId,
} from './trpcProtocol.js';
import type { ConnectionHost } from './types.js';

/** What a subscription needs of its connection. */
export interface SubscriptionHost<TCtx> extends ConnectionHost<TCtx> {
  /** Writes a frame (grouped with the turn's other frames). */
  send(text: string): void;
  close(code: number, reason: string): void;
  /** The subscription ended (its id is free again). */
  released(sub: Subscription<TCtx>): void;
}

/** The subscription's parsed message. */
export interface SubscriptionCall {
  id: RequestId;
  jsonrpc: '2.0' | undefined;
  path: string;
  input: unknown;
  batchIndex: number;
}

/**
 * The record of one subscription, and its writer. A class with prototype methods: tens of
 * thousands may be idle at once, each holding only this, its AbortController and its
 * stream.
 */
export class Subscription<TCtx> implements DeliverySink {
  readonly id: RequestId;
  readonly jsonrpc: '2.0' | undefined;
  readonly path: string;
  readonly input: unknown;
  readonly batchIndex: number;
  readonly controller = new AbortController();
  readonly #host: SubscriptionHost<TCtx>;
  #iterator: AsyncIterator<unknown> | null = null;
  /** The frame text before `"result"`, made on the first data frame. */
  #head: string | null = null;

  constructor(host: SubscriptionHost<TCtx>, call: SubscriptionCall) {
    this.#host = host;
    this.id = call.id;
    this.jsonrpc = call.jsonrpc;
    this.path = call.path;
    this.input = call.input;
    this.batchIndex = call.batchIndex;
  }

  /** What error reports call it (a getter: no field per subscription). */
  get type(): 'subscription' {
    return 'subscription';
  }

  /** True once stopped (by the client, the socket's close, or its own end). */
  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** {@link DeliverySink}: bytes queued on the connection. */
  bufferedAmount(): number {
    return this.#host.bufferedAmount();
  }

  /** {@link DeliverySink}: closes the whole connection (a slow consumer). */
  close(code: number, reason: string): void {
    this.#host.close(code, reason);
  }

  /**
   * {@link DeliverySink}: writes one tracked event as this subscription's data frame. Nothing
   * is written once it is stopped or the socket is closing (the client resumes from its last
   * event id). Called by the stream from the event log's listener, so the frames of one
   * committed batch leave together as soon as the batch is handed over.
   */
  write(trackedId: string, event: StreamEvent, json: string | undefined): void {
    if (this.stopped || !this.#host.isOpen()) return;
    const framing = this.#host.endpoint.opts.plainValueFraming;
    let text: string;
    if (json !== undefined && framing) {
      const idText = JSON.stringify(trackedId);
      const head = (this.#head ??= frameHead(this.id, this.jsonrpc));
      text = trackedFrameText(head, idText, framing(trackedValueText(idText, json)));
    } else {
      text = this.#encode(dataResult(event, trackedId));
    }
    this.#host.send(text);
    uncorkSoon();
  }

  /** `subscription.stop` or the socket closed: aborts the call's signal, ends the iterator. */
  stop(): void {
    if (this.stopped) return;
    this.controller.abort();
    const it = this.#iterator;
    if (it?.return) it.return().catch((cause: unknown) => this.#reportAfterStop(cause));
  }

  /** Runs the subscription; never rejects (whatever escapes is reported). */
  run(): void {
    void this.#run();
  }

  #encode(result: ReturnType<typeof dataResult> | { type: 'started' | 'stopped' }): string {
    return encodeResponse(this.#host.endpoint.config, {
      id: this.id,
      jsonrpc: this.jsonrpc,
      result,
    });
  }

  #respond(result: { type: 'started' | 'stopped' }): void {
    if (this.#host.isOpen()) this.#host.send(this.#encode(result));
  }

  #reportAfterStop(cause: unknown): void {
    if (!isAbortError(getTRPCErrorFromUnknown(cause).cause)) this.#host.report(this, cause);
  }

  /**
   * Calls the procedure, then writes `started`, each value, and `stopped`, as tRPC's adapter
   * does. One async function for the whole life of the subscription: an idle one holds this
   * function's promise and what its stream awaits, nothing per layer.
   */
  async #run(): Promise<void> {
    const { signal } = this.controller;
    const host = this.#host;
    try {
      let iterable: AsyncIterable<unknown> | null = null;
      try {
        // Waits for the connection's context, as every call does (it fails with it).
        const ctx = await host.context();
        // Stopped, or the socket closed, before it was called: only `stopped` (as tRPC does).
        if (!signal.aborted && host.isOpen()) iterable = await this.#call(ctx);
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        // A procedure that gave up because it was stopped is not an error (as tRPC's adapter).
        if (!(
          signal.aborted &&
          error.code === 'INTERNAL_SERVER_ERROR' &&
          isAbortError(error.cause)
        ))
          host.respondWithError(this, error);
        return; // no `stopped` after a failed start
      }
      let failure: { cause: unknown } | null = null;
      if (iterable) {
        const iterator = iterable[Symbol.asyncIterator]();
        this.#iterator = iterator;
        let completed = false;
        if (!signal.aborted && host.isOpen()) {
          this.#respond({ type: 'started' });
          try {
            for (;;) {
              const next = await iterator.next();
              if (signal.aborted) break;
              if (next.done) {
                completed = true;
                break;
              }
              this.#writeValue(next.value);
            }
          } catch (cause) {
            // After a stop the iterable may end by throwing (an AbortError is the expected way).
            if (!signal.aborted) failure = { cause };
            else this.#reportAfterStop(cause);
          }
        }
        if (!completed) this.controller.abort();
        try {
          await iterator.return?.();
        } catch (cause) {
          // The client gets the iteration's error, the server both (as tRPC's adapter).
          if (failure) host.report(this, cause);
          else failure = { cause };
        }
      }
      // A stream that failed after it started says so, then `stopped` (as tRPC's adapter).
      if (failure) host.respondWithError(this, failure.cause);
      this.#respond({ type: 'stopped' });
    } catch (cause) {
      host.report(this, cause); // an answer that could not be written
    } finally {
      host.released(this);
    }
  }

  /** The procedure's call; its result must be an async iterable (or an observable). */
  async #call(ctx: TCtx): Promise<AsyncIterable<unknown>> {
    const { opts } = this.#host.endpoint;
    const { signal } = this.controller;
    const result: unknown = await callTRPCProcedure({
      router: opts.router,
      path: this.path,
      getRawInput: () => Promise.resolve(this.input),
      ctx: opts.subscriptionContext ? opts.subscriptionContext(ctx, this) : ctx,
      type: 'subscription',
      signal,
      batchIndex: this.batchIndex,
    });
    if (isObservable(result)) return observableToAsyncIterable(result, signal);
    if (isAsyncIterable(result)) return result;
    throw new TRPCError({
      code: 'INTERNAL_SERVER_ERROR',
      message: `Subscription ${this.path} did not return an observable or a AsyncGenerator`,
    });
  }

  /** A value the procedure yielded (pulled): the same frame its own writes would make. */
  #writeValue(value: unknown): void {
    if (!this.#host.isOpen()) return;
    if (!isTrackedEnvelope(value))
      return this.#host.send(this.#encode(dataResult(value, undefined)));
    const [trackedId, data] = value;
    this.#host.send(this.#encode(dataResult(data, trackedId)));
  }
}
