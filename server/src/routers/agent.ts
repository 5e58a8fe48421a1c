import { tracked, type TrackedEnvelope } from '@trpc/server';
import { bindActiveContext } from '@tracewire/otel';
import { EventsInputSchema, GetRunInputSchema, type StreamEvent } from '@tracewire/shared';
import type { z } from 'zod';
import type { Principal } from '../auth/tokens.js';
import type { CallContext } from '../context.js';
import { createAccess } from '../access.js';
import { streamThread, type StreamItem } from '../events/delivery.js';
import type { DirectWrite } from '../events/flowControl.js';
import { authedProcedure } from '../procedures.js';
import { deliveryMeter, TRANSPORT_ATTRS, type Protocol } from '../telemetry/deliveryMeter.js';
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
  events: authedProcedure
    .input(EventsInputSchema)
    .subscription(({ ctx, input, signal }) =>
      threadEvents({ ctx, input, signal, inContext: bindActiveContext() }),
    ),
});

type ThreadEventsOptions = {
  ctx: CallContext & { principal: Principal };
  input: z.output<typeof EventsInputSchema>;
  signal: AbortSignal | undefined;
  inContext: <T>(fn: () => T) => T;
};

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The `agent.events` stream of one subscriber: the ownership check on the first pull, then
 * the thread's events as tracked envelopes. A plain iterator over {@link streamThread}, not a
 * second async generator: one promise per event instead of a generator resumption, and
 * nothing held per subscriber beyond this closure.
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
  const { ctx, input, inContext } = opts;
  const { services, principal } = ctx;
  const { metrics } = services;
  const protocol: Protocol = ctx.transport === 'ws' ? 'websocket' : 'http';
  const transport = TRANSPORT_ATTRS[protocol];
  const delivered = deliveryMeter(metrics, protocol);
  const follow = ctx.sink?.follow?.bind(ctx.sink);
  const direct: { write: DirectWrite | null } = { write: null };
  let source: AsyncGenerator<StreamItem> | null = null;
  let starting: Promise<AsyncGenerator<StreamItem> | null> | null = null;
  let pushing: Promise<IteratorResult<TrackedEnvelope<StreamEvent>>> | null = null;
  let ended = false;

  const end = () => {
    if (ended) return;
    ended = true;
    direct.write = null;
    if (source) metrics.subscriptionsActive.add(-1, transport);
  };
  const meter = (event: StreamEvent) => {
    if (event.type !== 'stream_position' && event.type !== 'resync') delivered(event);
  };
  const map = (r: IteratorResult<StreamItem>): IteratorResult<TrackedEnvelope<StreamEvent>> => {
    if (r.done) {
      end();
      return DONE;
    }
    const { id } = r.value;
    let { event } = r.value;
    meter(event);
    if (follow && direct.write === null && !ended) {
      // The marker must be this subscriber's own object: a stored event is shared.
      event = { ...event };
      follow(event, (write) => {
        if (ended) return;
        direct.write = (trackedId, e) => {
          write(trackedId, e);
          meter(e);
        };
      });
    }
    return { done: false, value: tracked(id, event) };
  };
  const fail = (err: unknown): never => {
    end();
    throw err;
  };
  /** Direct mode: writes what the generator yields until it ends; the adapter waits on this. */
  const push = async (s: AsyncGenerator<StreamItem>) => {
    try {
      for (;;) {
        const r = await s.next();
        const write = direct.write;
        if (r.done || !write) break;
        write(r.value.id, r.value.event);
      }
    } catch (err) {
      fail(err);
    }
    end();
    return DONE;
  };
  const start = async (): Promise<AsyncGenerator<StreamItem> | null> => {
    await inContext(() => createAccess(services.store).thread(principal.userId, input.threadId));
    if (ended) return null; // the subscriber left during the check
    source = openStream(opts, transport, direct);
    if (input.lastEventId) metrics.subscriptionResumes.add(1, transport);
    metrics.subscriptionsActive.add(1, transport);
    return source;
  };
  const iterator: AsyncIterator<TrackedEnvelope<StreamEvent>> = {
    next: () => {
      if (source) {
        if (direct.write) return (pushing ??= push(source));
        return source.next().then(map, fail);
      }
      if (ended) return Promise.resolve(DONE);
      starting ??= start();
      return starting.then((s) => (s ? s.next().then(map, fail) : DONE), fail);
    },
    return: async () => {
      const s = source;
      end();
      await s?.return(undefined);
      return DONE;
    },
    throw: async (err?: unknown) => {
      await iterator.return!();
      throw err;
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

/** The subscriber's delivery: position, backpressure against its connection, metrics hooks. */
function openStream(
  { ctx, input, signal, inContext }: ThreadEventsOptions,
  transport: (typeof TRANSPORT_ATTRS)[Protocol],
  direct: { write: DirectWrite | null },
): AsyncGenerator<StreamItem> {
  const { services } = ctx;
  const { delivery } = services.config;
  const { metrics } = services;
  return streamThread({
    events: services.events,
    threadId: input.threadId,
    lastEventId: input.lastEventId,
    signal: signal ?? new AbortController().signal,
    bufferEvents: delivery.bufferEvents,
    inContext,
    direct,
    flow: ctx.sink
      ? {
          sink: ctx.sink,
          highWaterBytes: delivery.highWaterBytes,
          slowConsumerTimeoutMs: delivery.slowConsumerTimeoutMs,
          onSlowConsumer: () => {
            metrics.slowConsumerDisconnects.add(1, transport);
            ctx.log.warn({ thread_id: input.threadId }, 'slow consumer disconnected');
          },
          onWait: (queuedBytes) => metrics.connectionQueuedBytes.record(queuedBytes, transport),
        }
      : undefined,
    hooks: {
      onResync: (reason) =>
        metrics.subscriptionResyncs.add(1, { 'tracewire.resync.reason': reason }),
    },
  });
}
