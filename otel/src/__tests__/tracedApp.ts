/**
 * A small tRPC v11 app wired with the tracing middleware, plus real WS and HTTP servers and
 * clients using the tracing link (two providers: "server" and "sdk", as in production).
 */
import { EventEmitter, on } from 'node:events';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import type { TRPCLink } from '@trpc/client';
import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  wsLink,
} from '@trpc/client';
import { TRPCError, initTRPC, tracked } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { observable } from '@trpc/server/observable';
import { transformer } from '@tracewire/shared';
import { EventSource } from 'eventsource';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { withAgentSpan, withToolSpan } from '../agentSpans.js';
import { createTracingLink, getOperationRequestId } from '../clientLink.js';
import type { TracewireMetrics } from '../metrics.js';
import { withEventProducer } from '../producer.js';
import type { TracewireTransport } from '../serverMiddleware.js';
import { createTracingMiddleware } from '../serverMiddleware.js';
import type { TestProvider } from './testTracing.js';

/** Context the app's createContext builds (identity from the "token" only). */
export type TestCtx = { userId: string | null; transport: TracewireTransport };

/** Builds the router; events go through an in-process emitter. */
export function createTestRouter(opts: {
  server: TestProvider;
  metrics?: TracewireMetrics;
  maxSubscriptionSpanMs?: number;
}) {
  const t = initTRPC.context<TestCtx>().create({ transformer, isDev: false });
  const tracing = t.middleware(
    createTracingMiddleware<TestCtx>({
      tracerProvider: opts.server.provider,
      getUserId: (c) => c.userId,
      getTransport: (c) => c.transport,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      ...(opts.maxSubscriptionSpanMs ? { maxSubscriptionSpanMs: opts.maxSubscriptionSpanMs } : {}),
    }),
  );
  const procedure = t.procedure.use(tracing);
  const tracer = opts.server.provider.getTracer('app');
  const bus = new EventEmitter();
  const router = t.router({
    chat: t.router({
      send: procedure
        .input(z.object({ threadId: z.string(), text: z.string() }).strict())
        .mutation(async ({ input }) => {
          await withAgentSpan('demo', async () => {
            await withToolSpan('calculator', 'call-1', () => 2 + 2);
            let seq = 0;
            for (const delta of ['Hel', 'lo']) {
              const event = {
                threadId: input.threadId,
                runId: 'run_1',
                seq: ++seq,
                ts: Date.now(),
                type: 'message_delta',
                delta,
              };
              await withEventProducer(event, (e) => void bus.emit(input.threadId, e));
            }
          });
          return { ok: true };
        }),
      whoami: procedure.input(z.object({}).strict()).query(() => ({
        baggageEntries: propagation.getBaggage(context.active())?.getAllEntries().length ?? 0,
        traceId: trace.getActiveSpan()?.spanContext().traceId,
      })),
      fail: procedure
        .input(z.object({ code: z.enum(['NOT_FOUND', 'INTERNAL_SERVER_ERROR']) }))
        .mutation(({ input }) => {
          throw new TRPCError({ code: input.code, message: 'failed on purpose' });
        }),
    }),
    agent: t.router({
      events: procedure
        .input(z.object({ threadId: z.string(), lastEventId: z.string().nullish() }).strict())
        .subscription(async function* ({ input, signal }) {
          tracer.startActiveSpan('generator.start', (s) => s.end());
          for await (const [event] of on(bus, input.threadId, { signal })) {
            const e = event as { seq: number };
            yield tracked(String(e.seq), event as Record<string, unknown>);
            tracer.startSpan('generator.step').end(); // parent comes from the active context
          }
        }),
    }),
  });
  return { router, t };
}

/** The test app's router type. */
export type TestRouter = ReturnType<typeof createTestRouter>['router'];

/** A link that records the request id the tracing link put in `op.context`. */
export function captureRequestIds(ids: string[]): TRPCLink<TestRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const id = getOperationRequestId(op);
        if (id) ids.push(id);
        return next(op).subscribe(observer);
      });
}

/** WS server on port 0 plus a client factory; disposes both. */
export async function startWsApp(router: TestRouter, client: TestProvider) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const handler = applyWSSHandler({
    wss,
    router,
    createContext: ({ info }) => ({
      userId: info.connectionParams?.['token'] ?? null,
      transport: 'websocket' as const,
    }),
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const wsClients: Array<ReturnType<typeof createWSClient>> = [];
  const requestIds: string[] = [];
  const open = (token: string | null) => {
    const ws = createWSClient({
      url,
      WebSocket: WebSocket as never,
      connectionParams: token ? { token } : null,
    });
    wsClients.push(ws);
    return ws;
  };
  return {
    requestIds,
    /** A client with the tracing link. */
    connect(token: string | null) {
      return createTRPCClient<TestRouter>({
        links: [
          createTracingLink({ tracerProvider: client.provider }),
          captureRequestIds(requestIds),
          wsLink({ client: open(token), transformer }),
        ],
      });
    },
    /** A plain tRPC client without the tracing link (what any third-party client looks like). */
    connectPlain(token: string | null) {
      return createTRPCClient<TestRouter>({
        links: [wsLink({ client: open(token), transformer })],
      });
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(wsClients.map((c) => c.close()));
      handler.broadcastReconnectNotification();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

/** HTTP server (batch + SSE) on port 0 plus a client; disposes the server. */
export async function startHttpApp(router: TestRouter, client: TestProvider, token: string) {
  const server = createHTTPServer({
    router,
    createContext: ({ req, info }) => ({
      userId:
        req.headers.authorization?.replace(/^Bearer /, '') ??
        info.connectionParams?.['token'] ??
        null,
      transport: 'http' as const,
    }),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const trpc = createTRPCClient<TestRouter>({
    links: [
      createTracingLink({ tracerProvider: client.provider }),
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({ url, transformer, EventSource, connectionParams: { token } }),
        false: httpBatchLink({ url, transformer, headers: { authorization: `Bearer ${token}` } }),
      }),
    ],
  });
  return {
    trpc,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
