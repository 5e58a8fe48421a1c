import { tracked } from '@trpc/server';
import { bindActiveContext } from '@tracewire/otel';
import { EventsInputSchema, GetRunInputSchema } from '@tracewire/shared';
import type { z } from 'zod';
import type { Principal } from '../auth/tokens.js';
import type { CallContext } from '../context.js';
import { createAccess } from '../access.js';
import { streamThread } from '../events/delivery.js';
import { authedProcedure } from '../procedures.js';
import type { Services } from '../services.js';
import { router } from '../trpc.js';

type Protocol = 'websocket' | 'http';
const TRANSPORT_ATTRS: Record<Protocol, { 'network.protocol.name': Protocol }> = {
  websocket: { 'network.protocol.name': 'websocket' },
  http: { 'network.protocol.name': 'http' },
};
const deliveredAttrs = new Map<
  string,
  { 'tracewire.event.type': string; 'network.protocol.name': Protocol }
>();
/** One shared attribute object per (type, transport): no allocation per event. */
function attrsFor(type: string, protocol: Protocol) {
  const key = `${protocol}|${type}`;
  let attrs = deliveredAttrs.get(key);
  if (!attrs) {
    attrs = { 'tracewire.event.type': type, 'network.protocol.name': protocol };
    deliveredAttrs.set(key, attrs);
  }
  return attrs;
}

type DeliveryMeter = (event: { type: string; ts: number }) => void;

/**
 * Counts delivered events and reports them once per event-loop turn: a metric call hashes
 * its attributes, which per event cost more than the delivery itself. The delivery lag is
 * sampled once per turn, from the oldest event written in it (the frames of a turn leave
 * together, see the transport's write batching). One meter per server and transport, shared
 * by every subscription: nothing is held per subscriber.
 */
function createDeliveryMeter(metrics: Services['metrics'], protocol: Protocol): DeliveryMeter {
  const counts = new Map<string, number>();
  let oldestTs = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    for (const [type, n] of counts) metrics.eventsDelivered.add(n, attrsFor(type, protocol));
    counts.clear();
    metrics.eventsDeliveryLag.record(Date.now() - oldestTs, TRANSPORT_ATTRS[protocol]);
  };
  return (event) => {
    counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
    if (scheduled) return;
    scheduled = true;
    oldestTs = event.ts;
    setImmediate(flush);
  };
}

const meters = new WeakMap<Services['metrics'], Record<Protocol, DeliveryMeter>>();
function deliveryMeter(metrics: Services['metrics'], protocol: Protocol): DeliveryMeter {
  let m = meters.get(metrics);
  if (!m) {
    m = {
      websocket: createDeliveryMeter(metrics, 'websocket'),
      http: createDeliveryMeter(metrics, 'http'),
    };
    meters.set(metrics, m);
  }
  return m[protocol];
}

/** Runs and their event streams. */
export const agentRouter = router({
  run: authedProcedure
    .input(GetRunInputSchema)
    .query(({ ctx, input }) =>
      createAccess(ctx.services.store).run(ctx.principal.userId, input.runId),
    ),

  // Not a generator function itself: this body runs inside the call's span, where the
  // context is captured; the generator runs later, resumed by the transport.
  events: authedProcedure
    .input(EventsInputSchema)
    .subscription(({ ctx, input, signal }) =>
      threadEvents({ ctx, input, signal, inContext: bindActiveContext() }),
    ),
});

/** The `agent.events` stream of one subscriber: ownership check, then the thread's events. */
async function* threadEvents({
  ctx,
  input,
  signal,
  inContext,
}: {
  ctx: CallContext & { principal: Principal };
  input: z.output<typeof EventsInputSchema>;
  signal: AbortSignal | undefined;
  inContext: <T>(fn: () => T) => T;
}) {
  const { services, principal } = ctx;
  await inContext(() => createAccess(services.store).thread(principal.userId, input.threadId));
  const { delivery } = services.config;
  const { metrics } = services;
  const protocol: Protocol = ctx.transport === 'ws' ? 'websocket' : 'http';
  const transport = TRANSPORT_ATTRS[protocol];
  const delivered = deliveryMeter(metrics, protocol);
  const stream = streamThread({
    events: services.events,
    threadId: input.threadId,
    lastEventId: input.lastEventId,
    signal: signal ?? new AbortController().signal,
    bufferEvents: delivery.bufferEvents,
    inContext,
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
  if (input.lastEventId) metrics.subscriptionResumes.add(1, transport);
  metrics.subscriptionsActive.add(1, transport);
  try {
    for await (const { id, event } of stream) {
      if (event.type !== 'stream_position' && event.type !== 'resync') delivered(event);
      yield tracked(id, event);
    }
  } finally {
    metrics.subscriptionsActive.add(-1, transport);
  }
}
