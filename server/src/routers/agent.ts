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
    .query(({ ctx, input }) => createAccess(ctx.services.store).run(ctx.principal.userId, input.runId)),

  events: authedProcedure.input(EventsInputSchema).subscription(async function* ({ ctx, input, signal }) {
    const { services, principal } = ctx;
    await createAccess(services.store).thread(principal.userId, input.threadId);
    const { delivery } = services.config;
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
            onSlowConsumer: () => ctx.log.warn({ thread_id: input.threadId }, 'slow consumer disconnected'),
          }
        : undefined,
    });
    for await (const { id, event } of stream) {
      yield tracked(id, event);
    }
  }),
});
