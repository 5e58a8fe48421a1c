import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import superjson from 'superjson';
import { WebSocket } from 'ws';
import type { BenchEvent } from '../protocol.js';
import type { PeerRouter } from '../servers/trpc.js';
import { retryDelay, runLoad } from './harness.js';

/** Plain `@trpc/client` over WebSocket: wsLink reconnects and resubscribes with the last tracked id. */
await runLoad(async (ctx) => {
  let opens = 0;
  const wsClient = createWSClient({
    url: `ws://127.0.0.1:${ctx.args.port}`,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: retryDelay,
    onOpen: () => {
      if (opens++) ctx.onReconnect();
    },
  });
  const trpc = createTRPCClient<PeerRouter>({
    links: [wsLink({ client: wsClient, transformer: superjson })],
  });
  const { streamId } = ctx;
  const sub = await new Promise<{ unsubscribe(): void }>((resolve, reject) => {
    const s = trpc.events.subscribe(
      { streamId },
      {
        onStarted: () => resolve(s),
        onData: ({ data }: { data: BenchEvent }) => ctx.onEvent(data),
        onError: reject,
      },
    );
  });
  return {
    start: async () => {
      await trpc.start.mutate({ streamId, params: ctx.args.params });
    },
    close: () => {
      sub.unsubscribe();
      return wsClient.close();
    },
  };
});
