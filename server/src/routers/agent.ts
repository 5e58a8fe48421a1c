import { tracked, type TrackedEnvelope } from '@trpc/server';
import {
  bindActiveContext,
  STREAM_HOOKS,
  StreamHookList,
  type HookableStream,
  type StreamHooks,
} from '@tracewire/otel';
import {
  EventsInputSchema,
  GetRunInputSchema,
  type ResyncReason,
  type StreamEvent,
  type UserId,
} from '@tracewire/shared';
import type { z } from 'zod';
import type { CallContext } from '../context.js';
import { createAccess } from '../access.js';
import { streamThread, type DeliveryHooks, type StreamItem } from '../events/delivery.js';
import type { DeliverySink, DirectWrite, FlowControl } from '../events/flowControl.js';
import { createCallLogger } from '../middleware/requestContext.js';
import { authedProcedure } from '../procedures.js';
import type { Services } from '../services.js';
import {
  deliveryMeter,
  TRANSPORT_ATTRS,
  type DeliveryMeter,
  type Protocol,
} from '../telemetry/deliveryMeter.js';
import { router } from '../trpc.js';

/** Runs and their event streams. */
export const agentRouter = router({
  run: authedProcedure
    .input(GetRunInputSchema)
    .query(({ ctx, input }) =>
      createAccess(ctx.services.store).run(ctx.principal.userId, input.runId),
    ),

  // This body runs inside the call's span, where the context is captured; the stream runs
  // later, pulled by the transport.
  events: authedProcedure.input(EventsInputSchema).subscription(({ ctx, input, signal }) =>
    threadEvents({
      services: ctx.services,
      transport: ctx.transport,
      sink: ctx.sink,
      userId: ctx.principal.userId,
      requestId: ctx.requestId,
      input,
      signal,
      inContext: bindActiveContext(),
    }),
  ),
});

type ThreadEventsOptions = {
  /**
   * What the stream needs of the call's context, and no more: an open subscription holds
   * these for as long as it lasts (its slow-consumer warning makes the call's logger then).
   */
  services: Services;
  transport: CallContext['transport'];
  sink: CallContext['sink'];
  userId: UserId;
  requestId: string;
  input: z.output<typeof EventsInputSchema>;
  signal: AbortSignal | undefined;
  inContext: <T>(fn: () => T) => T;
};

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The `agent.events` stream of one subscriber: the ownership check on the first pull, then
 * the thread's events as tracked envelopes. A plain iterator over {@link streamThread}, not a
 * second async generator: one promise per event instead of a generator resumption, and
 * nothing held per subscriber beyond one {@link ThreadEvents} object.
 *
 * Where the connection offers direct writes (WebSocket), the first item is pulled through
 * the RPC adapter as usual, and the connection follows it to learn the subscription's wire
 * id; every later item is written to the socket straight from the log's listener (or, when
 * the stream needs its generator, from a loop here), in the adapter's exact frame format,
 * while the adapter's own `next()` stays pending until the stream ends. That takes the
 * adapter's per-message loop (a promise race and two object copies per event) and four
 * iterator wrappers off the path of every event; ordering, backpressure, resume and the
 * stream's end and errors are unchanged.
 */
function threadEvents(opts: ThreadEventsOptions): AsyncIterable<TrackedEnvelope<StreamEvent>> {
  return new ThreadEvents(opts);
}

type Transport = (typeof TRANSPORT_ATTRS)[Protocol];

/**
 * The iterator of {@link threadEvents}. A class with prototype methods rather than a closure
 * per step: tens of thousands of idle subscriptions are held at once, and what each retains
 * bounds that. It also serves as the stream's delivery hooks (resync metrics).
 */
class ThreadEvents
  implements
    AsyncIterableIterator<TrackedEnvelope<StreamEvent>>,
    HookableStream<TrackedEnvelope<StreamEvent>>,
    DeliveryHooks
{
  readonly #opts: ThreadEventsOptions;
  readonly #transport: Transport;
  readonly #delivered: DeliveryMeter;
  /** Read by the stream: set once the connection follows this subscription. */
  readonly #direct: { write: DirectWrite | null } = { write: null };
  #source: AsyncGenerator<StreamItem> | null = null;
  #starting: Promise<AsyncGenerator<StreamItem> | null> | null = null;
  #pushing: Promise<IteratorResult<TrackedEnvelope<StreamEvent>>> | null = null;
  /**
   * The layers around the subscription (span, slot, error mapping) learn of its end here
   * instead of wrapping it: no promise per layer held while the stream waits.
   */
  readonly #hooks = new StreamHookList();

  constructor(opts: ThreadEventsOptions) {
    this.#opts = opts;
    const protocol: Protocol = opts.transport === 'ws' ? 'websocket' : 'http';
    this.#transport = TRANSPORT_ATTRS[protocol];
    this.#delivered = deliveryMeter(opts.services.metrics, protocol);
  }

  /** Iterated once, by the transport: the iterable is its own iterator (as a generator is). */
  [Symbol.asyncIterator](): this {
    return this;
  }

  [STREAM_HOOKS](hooks: StreamHooks): boolean {
    return this.#hooks.add(hooks);
  }

  get #ended(): boolean {
    return this.#hooks.ended;
  }

  next(): Promise<IteratorResult<TrackedEnvelope<StreamEvent>>> {
    const source = this.#source;
    if (source) {
      if (this.#direct.write) return (this.#pushing ??= this.#push(source));
      return source.next().then(
        (r) => this.#map(r),
        (err: unknown) => this.#fail(err),
      );
    }
    if (this.#ended) return Promise.resolve(DONE);
    this.#starting ??= this.#start();
    return this.#starting.then(
      (s) =>
        s
          ? s.next().then(
              (r) => this.#map(r),
              (err: unknown) => this.#fail(err),
            )
          : DONE,
      (err: unknown) => this.#fail(err),
    );
  }

  async return(): Promise<IteratorResult<TrackedEnvelope<StreamEvent>>> {
    const s = this.#source;
    this.#end();
    try {
      await s?.return(undefined);
    } catch (err) {
      throw this.#hooks.map(err);
    }
    return DONE;
  }

  async throw(err?: unknown): Promise<IteratorResult<TrackedEnvelope<StreamEvent>>> {
    await this.return();
    throw this.#hooks.map(err);
  }

  /** {@link DeliveryHooks}: the stream restarted at the head. */
  onResync(reason: ResyncReason): void {
    this.#opts.services.metrics.subscriptionResyncs.add(1, {
      'tracewire.resync.reason': reason,
    });
  }

  /** Ends the stream once: completed, closed, or failed with `err` (mapped). */
  #end(err?: unknown): void {
    if (this.#ended) return;
    this.#direct.write = null;
    if (this.#source) this.#opts.services.metrics.subscriptionsActive.add(-1, this.#transport);
    this.#hooks.end(err);
  }

  #meter(event: StreamEvent): void {
    if (event.type !== 'stream_position' && event.type !== 'resync') this.#delivered(event);
  }

  #map(r: IteratorResult<StreamItem>): IteratorResult<TrackedEnvelope<StreamEvent>> {
    if (r.done) {
      this.#end();
      return DONE;
    }
    const { id } = r.value;
    let { event } = r.value;
    this.#meter(event);
    const sink = this.#opts.sink;
    if (sink?.follow && this.#direct.write === null && !this.#ended) {
      // The marker must be this subscriber's own object: a stored event is shared.
      event = { ...event };
      sink.follow(event, (write) => {
        if (this.#ended) return;
        this.#direct.write = (trackedId, e) => {
          write(trackedId, e);
          this.#meter(e);
        };
      });
    }
    return { done: false, value: tracked(id, event) };
  }

  #fail(err: unknown): never {
    const mapped = this.#hooks.map(err);
    this.#end(mapped);
    throw mapped;
  }

  /** Direct mode: writes what the generator yields until it ends; the adapter waits on this. */
  async #push(
    s: AsyncGenerator<StreamItem>,
  ): Promise<IteratorResult<TrackedEnvelope<StreamEvent>>> {
    try {
      for (;;) {
        const r = await s.next();
        const write = this.#direct.write;
        if (r.done || !write) break;
        write(r.value.id, r.value.event);
      }
    } catch (err) {
      this.#fail(err);
    }
    this.#end();
    return DONE;
  }

  async #start(): Promise<AsyncGenerator<StreamItem> | null> {
    const { services, userId, input, inContext } = this.#opts;
    await inContext(() => createAccess(services.store).thread(userId, input.threadId));
    if (this.#ended) return null; // the subscriber left during the check
    this.#source = openStream(this.#opts, {
      transport: this.#transport,
      direct: this.#direct,
      hooks: this,
    });
    if (input.lastEventId) services.metrics.subscriptionResumes.add(1, this.#transport);
    services.metrics.subscriptionsActive.add(1, this.#transport);
    return this.#source;
  }
}

/**
 * Backpressure against the subscriber's connection, and its metrics: a class, not a closure
 * per callback (one per open subscription).
 */
class SubscriberFlow implements FlowControl {
  readonly highWaterBytes: number;
  readonly slowConsumerTimeoutMs: number;

  constructor(
    readonly sink: DeliverySink,
    private readonly opts: ThreadEventsOptions,
    private readonly transport: Transport,
  ) {
    const { delivery } = opts.services.config;
    this.highWaterBytes = delivery.highWaterBytes;
    this.slowConsumerTimeoutMs = delivery.slowConsumerTimeoutMs;
  }

  onSlowConsumer(): void {
    const { services, requestId, userId, input } = this.opts;
    services.metrics.slowConsumerDisconnects.add(1, this.transport);
    createCallLogger(services, requestId, userId).warn(
      { thread_id: input.threadId },
      'slow consumer disconnected',
    );
  }

  onWait(queuedBytes: number): void {
    this.opts.services.metrics.connectionQueuedBytes.record(queuedBytes, this.transport);
  }
}

/** What {@link openStream} takes from the subscription. */
interface OpenStreamParts {
  transport: Transport;
  direct: { write: DirectWrite | null };
  hooks: DeliveryHooks;
}

/** The subscriber's delivery: position, backpressure against its connection, metrics hooks. */
function openStream(
  opts: ThreadEventsOptions,
  { transport, direct, hooks }: OpenStreamParts,
): AsyncGenerator<StreamItem> {
  const { services, sink, input, signal, inContext } = opts;
  return streamThread({
    events: services.events,
    threadId: input.threadId,
    lastEventId: input.lastEventId,
    signal: signal ?? new AbortController().signal,
    bufferEvents: services.config.delivery.bufferEvents,
    inContext,
    direct,
    flow: sink ? new SubscriberFlow(sink, opts, transport) : undefined,
    hooks,
  });
}
