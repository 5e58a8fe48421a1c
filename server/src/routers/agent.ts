import { tracked } from '@trpc/server';
import { EventsInputSchema, GetRunInputSchema } from '@tracewire/shared';
import { createAccess } from '../access.js';
import { streamThread } from '../events/delivery.js';
import { authedProcedure } from '../procedures.js';
import { router } from '../trpc.js';

/** Runs and their event streams. */
export const agentRouter = router({
  run: authedProcedure
    .input(GetRunInputSchema)
    .query(({ ctx, input }) =>
      createAccess(ctx.services.store).run(ctx.principal.userId, input.runId),
    ),

  events: authedProcedure.input(EventsInputSchema).subscription(async function* ({
    ctx,
    input,
    signal,
  }) {
    const { services, principal } = ctx;
    await createAccess(services.store).thread(principal.userId, input.threadId);
    const { delivery } = services.config;
    const { metrics } = services;
    const transport = { 'network.protocol.name': ctx.transport === 'ws' ? 'websocket' : 'http' };
    const stream = streamThread({
      events: services.events,
      threadId: input.threadId,
      lastEventId: input.lastEventId,
      signal: signal ?? new AbortController().signal,
      bufferEvents: delivery.bufferEvents,
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
        if (event.type !== 'stream_position' && event.type !== 'resync') {
          metrics.eventsDelivered.add(1, { 'tracewire.event.type': event.type, ...transport });
          metrics.eventsDeliveryLag.record(Date.now() - event.ts, transport);
        }
        yield tracked(id, event);
      }
    } finally {
      metrics.subscriptionsActive.add(-1, transport);
    }
  }),
});
