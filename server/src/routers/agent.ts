import { bindActiveContext } from '@tracewire/otel';
import { EventsInputSchema, GetRunInputSchema } from '@tracewire/shared';
import { createAccess } from '../access.js';
import { createThreadSubscription } from '../events/threadSubscription.js';
import { authedProcedure } from '../procedures.js';
import { createSubscriptionObserver } from '../telemetry/subscriptionObserver.js';
import { router } from '../trpc.js';

/** Runs and their event streams. */
export const agentRouter = router({
  run: authedProcedure
    .input(GetRunInputSchema)
    .query(({ ctx, input }) =>
      createAccess(ctx.services.store).run(ctx.principal.userId, input.runId),
    ),

  // This body runs inside the call's span, where the context is captured; the stream runs
  // later, pulled by the transport or writing through the call's sink.
  events: authedProcedure.input(EventsInputSchema).subscription(({ ctx, input, signal }) => {
    const { services, principal } = ctx;
    return createThreadSubscription({
      events: services.events,
      input,
      signal,
      sink: ctx.sink,
      delivery: services.config.delivery,
      authorize: () => createAccess(services.store).thread(principal.userId, input.threadId),
      inContext: bindActiveContext(),
      observer: createSubscriptionObserver({
        services,
        transport: ctx.transport,
        requestId: ctx.requestId,
        userId: principal.userId,
        threadId: input.threadId,
      }),
    });
  }),
});
