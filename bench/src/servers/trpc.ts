import { createServer } from 'node:http';
import { initTRPC, tracked } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import superjson from 'superjson';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import type { BenchEvent, StreamParams } from '../protocol.js';
import { serveBench } from './harness.js';
import { createHub, HIGH_WATER_BYTES } from './hub.js';
import { closeServer, listenLoopback } from './listen.js';
import { createQueue } from './queue.js';

const hub = createHub();
const t = initTRPC.context<{ ws: WebSocket }>().create({ transformer: superjson });

/** Plain tRPC v11: a tracked() subscription fed from memory; no persistence, no auth. */
const peerRouter = t.router({
  start: t.procedure
    .input(z.object({ streamId: z.string(), params: z.custom<StreamParams>() }))
    .mutation(({ input }) => hub.start(input.streamId, input.params)),
  events: t.procedure
    .input(z.object({ streamId: z.string(), lastEventId: z.string().nullish() }))
    .subscription(async function* ({ input, ctx, signal }) {
      const queue = createQueue<BenchEvent>();
      const detach = hub.attach(input.streamId, {
        deliver: (ev) => queue.push(ev),
        writable: () => ctx.ws.bufferedAmount < HIGH_WATER_BYTES && queue.size() < 1024,
      });
      try {
        // lastEventId arrives on resubscribe, but there is no log to resume from.
        for await (const ev of queue.drain(signal ?? new AbortController().signal))
          yield tracked(String(ev.seq), ev);
      } finally {
        detach();
      }
    }),
});

/** The plain tRPC server's router type, for its load client. */
export type PeerRouter = typeof peerRouter;

await serveBench(async () => {
  const httpServer = createServer();
  const wss = new WebSocketServer({ server: httpServer });
  applyWSSHandler({ wss, router: peerRouter, createContext: ({ res }) => ({ ws: res }) });
  const port = await listenLoopback(httpServer);
  return { httpServer, port, close: () => closeServer(httpServer) };
});
