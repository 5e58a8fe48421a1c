import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AnyTRPCRouter } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import type { DeliverySink } from '../../../events/flowControl.js';
import { createConnectionRegistry, type ConnectionRegistry } from '../../connections.js';
import { createTrpcWsEndpoint } from '../endpoint.js';
import type { TrpcWsEndpoint } from '../endpoint.js';
import type { WsErrorInfo, WsLimits } from '../types.js';

/** The context both servers give a connection: who it says it is, from its connectionParams. */
export interface TestWsContext {
  user: string | null;
  /** Set per subscription by Tracewire's adapter (its writer); absent on tRPC's. */
  sink?: DeliverySink;
}

/** Makes the context from connectionParams; `{ user: 'reject' }` is refused (UNAUTHORIZED). */
export type TestCreateContext = (
  params: Partial<Record<string, string>> | null,
) => TestWsContext | Promise<TestWsContext>;

/** A WebSocket server for a test, on a loopback port, torn down by `await using`. */
export interface TestWsServer extends AsyncDisposable {
  /** ws://127.0.0.1:PORT */
  readonly url: string;
  /** Errors reported through `onError`. */
  readonly errors: WsErrorInfo<TestWsContext>[];
  /** Tells every client to reconnect. */
  broadcastReconnectNotification(): void;
}

/** Limits generous enough not to get in a protocol test's way. */
export const TEST_WS_LIMITS: WsLimits = {
  maxBatchSize: 10,
  framesPerSecond: 10_000,
  frameBurst: 10_000,
  maxJsonDepth: 64,
  preAuthBytes: 16_384,
  authTimeoutMs: 10_000,
  maxUnauthenticated: 100,
  responseBudgetBytes: 4 * 1024 * 1024,
  highWaterBytes: 1024 * 1024,
  slowConsumerTimeoutMs: 10_000,
};

/** Options of {@link startTracewireWs}. */
export interface TracewireWsOptions {
  limits?: Partial<WsLimits>;
  /** Frames plain JSON as superjson does (the fast path); off: every value is encoded. */
  superjsonFraming?: boolean;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function shutdown(server: Server, wss: WebSocketServer): Promise<void> {
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** Tracewire's adapter serving `router`. */
export async function startTracewireWs(
  router: AnyTRPCRouter,
  createContext: TestCreateContext,
  opts: TracewireWsOptions = {},
): Promise<TestWsServer & { endpoint: TrpcWsEndpoint; registry: ConnectionRegistry }> {
  const errors: WsErrorInfo<TestWsContext>[] = [];
  const registry = createConnectionRegistry(pino({ level: 'silent' }));
  const endpoint = createTrpcWsEndpoint<TestWsContext>({
    router,
    registry,
    maxPayloadBytes: 1024 * 1024,
    limits: { ...TEST_WS_LIMITS, ...opts.limits },
    ...(opts.superjsonFraming === false ? {} : { plainValueFraming: (j) => `{"json":${j}}` }),
    createContext: ({ connectionParams }) => createContext(connectionParams),
    subscriptionContext: (ctx, sink) => ({ ...ctx, sink }),
    onError: (info) => errors.push(info),
  });
  const server = createServer();
  server.on('upgrade', (req, socket, head: Buffer) => endpoint.handleUpgrade(req, socket, head));
  const url = await listen(server);
  return {
    url,
    errors,
    endpoint,
    registry,
    broadcastReconnectNotification: () => endpoint.broadcastReconnectNotification(),
    [Symbol.asyncDispose]: () => shutdown(server, endpoint.wss),
  };
}

/** tRPC's own adapter (`applyWSSHandler`) serving `router`, with the same context. */
export async function startStockTrpcWs(
  router: AnyTRPCRouter,
  createContext: TestCreateContext,
  opts: { maxBatchSize?: number } = {},
): Promise<TestWsServer> {
  const errors: WsErrorInfo<TestWsContext>[] = [];
  const server = createServer();
  const wss = new WebSocketServer({ server });
  const handler = applyWSSHandler({
    wss,
    router,
    maxBatchSize: opts.maxBatchSize ?? TEST_WS_LIMITS.maxBatchSize,
    createContext: ({ info }) => createContext(info.connectionParams),
    onError: ({ error, type, path, input, ctx }) =>
      errors.push({ error, type, path, input, ctx: ctx as TestWsContext | undefined }),
  });
  const url = await listen(server);
  return {
    url,
    errors,
    broadcastReconnectNotification: () => handler.broadcastReconnectNotification(),
    [Symbol.asyncDispose]: () => shutdown(server, wss),
  };
}
