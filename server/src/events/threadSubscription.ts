/**
 * One subscriber's stream of a thread (`agent.events`), from its first pull to its end: the
 * access check, then {@link streamThread}'s items as tracked envelopes, either pulled by the
 * transport (SSE, in process) or written by the stream itself through its sink's writer
 * (WebSocket). The procedure only builds it; this module knows nothing of the transport.
 * @module
 */
import { tracked, type TrackedEnvelope } from '@trpc/server';
import {
  STREAM_HOOKS,
  StreamHookList,
  type HookableStream,
  type ResyncReason,
  type StreamEvent,
  type StreamHooks,
  type ThreadId,
} from '@tracewire/shared';
import { streamThread, type DeliveryHooks, type StreamItem } from './delivery.js';
import type { EventLog } from './eventLog.js';
import type { DeliverySink, FlowControl } from './flowControl.js';

/** What a subscription reports, for metrics and logs (one object per subscription). */
export interface SubscriptionObserver {
  /** The stream opened (after the access check); `resumed` when it had a `lastEventId`. */
  opened(resumed: boolean): void;
  /** The stream ended, after `opened`. */
  closed(): void;
  /** An agent event was handed to the transport (not the control events). */
  delivered(event: StreamEvent): void;
  /** The stream restarted at the head. */
  resynced(reason: ResyncReason): void;
  /** The connection was closed as a slow consumer. */
  slowConsumer(): void;
  /** A write had to wait for the connection, with the bytes queued on it. */
  waited(queuedBytes: number): void;
}

/** Options of {@link createThreadSubscription}. */
export interface ThreadSubscriptionOptions {
  events: EventLog;
  input: { threadId: ThreadId; lastEventId?: string | null | undefined };
  /** The call's signal: the transport aborts it when the subscription stops. */
  signal: AbortSignal | undefined;
  /** Where the events go; null for in-process callers (no backpressure). */
  sink: DeliverySink | null;
  /** Backpressure and buffering settings (the server's `delivery` config). */
  delivery: { highWaterBytes: number; slowConsumerTimeoutMs: number; bufferEvents: number };
  /** Refuses (throws) when the subscriber may not read the thread; runs on the first pull. */
  authorize: () => Promise<unknown>;
  /** Runs the stream's own reads in the call's context (its trace span). */
  inContext: <T>(fn: () => T) => T;
  observer: SubscriptionObserver;
}

type Envelope = TrackedEnvelope<StreamEvent>;
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * Creates the stream. It is its own iterator (as a generator is), iterated once, and reports
 * its end to the layers around it through {@link STREAM_HOOKS} instead of being wrapped.
 */
export function createThreadSubscription(
  opts: ThreadSubscriptionOptions,
): AsyncIterableIterator<Envelope> & HookableStream<Envelope> {
  return new ThreadSubscription(opts);
}

/**
 * The states: not started (no pull yet) → starting (access check) → open (the source exists)
 * → ended. A class with prototype methods rather than a closure per step: tens of thousands
 * of idle subscriptions are held at once, and what each retains bounds that. It is also the
 * stream's delivery hooks and flow control.
 */
class ThreadSubscription
  implements AsyncIterableIterator<Envelope>, HookableStream<Envelope>, DeliveryHooks, FlowControl
{
  readonly sink: DeliverySink;
  readonly highWaterBytes: number;
  readonly slowConsumerTimeoutMs: number;
  #opts: ThreadSubscriptionOptions | null;
  readonly #observer: SubscriptionObserver;
  #source: AsyncGenerator<StreamItem> | null = null;
  #starting: Promise<AsyncGenerator<StreamItem> | null> | null = null;
  /** Push mode: the loop writing what the source yields, which `next()` returns. */
  #pushing: Promise<IteratorResult<Envelope>> | null = null;
  /** The layers around the subscription (span, slot, error mapping) learn of its end here. */
  readonly #hooks = new StreamHookList();

  constructor(opts: ThreadSubscriptionOptions) {
    this.#opts = opts;
    this.#observer = opts.observer;
    this.sink = opts.sink ?? NO_SINK;
    this.highWaterBytes = opts.delivery.highWaterBytes;
    this.slowConsumerTimeoutMs = opts.delivery.slowConsumerTimeoutMs;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  [STREAM_HOOKS](hooks: StreamHooks): boolean {
    return this.#hooks.add(hooks);
  }

  next(): Promise<IteratorResult<Envelope>> {
    const source = this.#source;
    if (source) {
      if (this.sink.write) return (this.#pushing ??= this.#push(source));
      return source.next().then(
        (r) => this.#map(r),
        (err: unknown) => this.#fail(err),
      );
    }
    if (this.#hooks.ended) return Promise.resolve(DONE);
    this.#starting ??= this.#start();
    return this.#starting.then(
      (s) => (s ? this.next() : DONE),
      (err: unknown) => this.#fail(err),
    );
  }

  async return(): Promise<IteratorResult<Envelope>> {
    const s = this.#source;
    this.#end();
    try {
      await s?.return(undefined);
    } catch (err) {
      throw this.#hooks.map(err);
    }
    return DONE;
  }

  async throw(err?: unknown): Promise<IteratorResult<Envelope>> {
    await this.return();
    throw this.#hooks.map(err);
  }

  /** {@link DeliveryHooks}: the stream restarted at the head. */
  onResync(reason: ResyncReason): void {
    this.#observer.resynced(reason);
  }

  /** {@link FlowControl}: the connection was closed as a slow consumer. */
  onSlowConsumer(): void {
    this.#observer.slowConsumer();
  }

  /** {@link DeliveryHooks}: the log's listener wrote an event to the sink. */
  onWritten(event: StreamEvent): void {
    this.#observer.delivered(event);
  }

  /** {@link FlowControl}: a write waits for the connection to drain. */
  onWait(queuedBytes: number): void {
    this.#observer.waited(queuedBytes);
  }

  /** Ends the stream once: completed, closed, or failed with `err` (mapped). */
  #end(err?: unknown): void {
    if (this.#hooks.ended) return;
    if (this.#source) this.#observer.closed();
    this.#opts = null;
    this.#hooks.end(err);
  }

  #count(event: StreamEvent): void {
    if (event.type !== 'stream_position' && event.type !== 'resync')
      this.#observer.delivered(event);
  }

  /** Pull mode: the item as tRPC's tracked envelope. */
  #map(r: IteratorResult<StreamItem>): IteratorResult<Envelope> {
    if (r.done) {
      this.#end();
      return DONE;
    }
    const { id, event } = r.value;
    this.#count(event);
    this.sink.writing?.();
    return { done: false, value: tracked(id, event) };
  }

  #fail(err: unknown): never {
    const mapped = this.#hooks.map(err);
    this.#end(mapped);
    throw mapped;
  }

  /**
   * Push mode: writes what the source yields (backfill, resync, what backpressure held back)
   * until it ends; the transport's `next()` waits on this. Live events that continue the
   * stream are written by the log's listener meanwhile (see `streamThread`).
   */
  async #push(s: AsyncGenerator<StreamItem>): Promise<IteratorResult<Envelope>> {
    try {
      for (;;) {
        const r = await s.next();
        if (r.done || this.#hooks.ended) break;
        const { id, event, json } = r.value;
        this.sink.write!(id, event, json);
        this.#count(event);
      }
    } catch (err) {
      this.#fail(err);
    }
    this.#end();
    return DONE;
  }

  async #start(): Promise<AsyncGenerator<StreamItem> | null> {
    const opts = this.#opts!;
    await opts.inContext(opts.authorize);
    if (this.#hooks.ended) return null; // the subscriber left during the check
    const { events, input, signal, sink, delivery, inContext } = opts;
    this.#source = streamThread({
      events,
      threadId: input.threadId,
      lastEventId: input.lastEventId,
      signal: signal ?? new AbortController().signal,
      bufferEvents: delivery.bufferEvents,
      inContext,
      flow: sink ? this : undefined,
      hooks: this,
    });
    // What the stream needs from here on is held by the source; the options go.
    this.#opts = null;
    this.#observer.opened(Boolean(input.lastEventId));
    return this.#source;
  }
}

/** The sink of an in-process subscriber: never full, nothing to close. */
const NO_SINK: DeliverySink = { bufferedAmount: () => 0, close: () => undefined };
