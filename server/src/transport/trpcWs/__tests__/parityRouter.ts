import { initTRPC, tracked, TRPCError } from '@trpc/server';
import { EventsInputSchema, transformer } from '@tracewire/shared';
import { z, ZodError } from 'zod';
import type { EventLog } from '../../../events/eventLog.js';
import {
  createThreadSubscription,
  type SubscriptionObserver,
} from '../../../events/threadSubscription.js';
import type { TestWsContext } from './wsServers.js';

const quiet: SubscriptionObserver = {
  opened: () => undefined,
  closed: () => undefined,
  delivered: () => undefined,
  resynced: () => undefined,
  slowConsumer: () => undefined,
  waited: () => undefined,
};

/** Waits until `signal` aborts (a subscription that stays open until it is stopped). */
const untilAborted = (signal: AbortSignal | undefined) =>
  new Promise<void>((resolve) => {
    if (!signal || signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });

/**
 * The router both WebSocket adapters serve in the parity suite: every kind of answer tRPC's
 * protocol has (data, superjson annotations, each error path, zod issues, tracked events and
 * resume, streams that complete, fail or were never streams) and `thread`, Tracewire's own
 * thread subscription on a real event log, which writes its events itself through
 * Tracewire's adapter and is pulled by tRPC's.
 */
export function createParityRouter(events: EventLog) {
  const t = initTRPC.context<TestWsContext>().create({
    transformer,
    isDev: false,
    errorFormatter: ({ shape, error }) => ({
      ...shape,
      data: {
        ...shape.data,
        zodError: error.cause instanceof ZodError ? z.flattenError(error.cause) : null,
      },
    }),
  });
  const p = t.procedure;
  return t.router({
    whoami: p.query(({ ctx }) => ctx.user),
    greet: p
      .input(z.object({ name: z.string().min(1) }))
      .query(({ input }) => `hello ${input.name}`),
    add: p
      .input(z.object({ a: z.number(), b: z.number() }))
      .mutation(({ input }) => input.a + input.b),
    forbidden: p.query(() => {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'not yours' });
    }),
    crash: p.query(() => {
      throw new Error('an internal detail');
    }),
    epoch: p.query(() => ({ at: new Date(0), big: 1n, gone: undefined })),
    streamingQuery: p.query(async function* () {
      yield await Promise.resolve(1);
    }),
    notIterable: p.subscription(() => 42 as unknown as AsyncIterable<number>),
    numbers: p
      .input(z.object({ count: z.number().int().max(100), lastEventId: z.string().nullish() }))
      .subscription(async function* ({ input, signal }) {
        const from = input.lastEventId ? Number(input.lastEventId) + 1 : 0;
        for (let i = from; i < from + input.count; i++) yield tracked(String(i), { n: i });
        await untilAborted(signal);
      }),
    finite: p.subscription(async function* () {
      yield 'a';
      yield await Promise.resolve({ when: new Date(0), list: [1, 2] });
    }),
    failing: p.subscription(async function* () {
      yield 1;
      await Promise.resolve();
      throw new TRPCError({ code: 'CONFLICT', message: 'the stream broke' });
    }),
    thread: p.input(EventsInputSchema).subscription(({ ctx, input, signal }) =>
      createThreadSubscription({
        events,
        input,
        signal,
        sink: ctx.sink ?? null,
        delivery: { highWaterBytes: 1 << 20, slowConsumerTimeoutMs: 10_000, bufferEvents: 1024 },
        authorize: () => Promise.resolve(),
        inContext: (fn) => fn(),
        observer: quiet,
      }),
    ),
  });
}
