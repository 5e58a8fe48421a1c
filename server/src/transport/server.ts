import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { getWSConnectionHandler } from '@trpc/server/adapters/ws';
import { CLOSE_CODES } from '@tracewire/shared';
import { WebSocketServer } from 'ws';
import { AppError } from '@tracewire/shared';
import { appRouter } from '../routers/index.js';
import type { Services } from '../services.js';
import { createConnectionRegistry, type ConnectionRegistry } from './connections.js';
import { bearerToken, resolveContext } from './context.js';
import { createHealthHandler } from './health.js';

/** Options for {@link createTransport}. */
export interface TransportOptions {
  services: Services;
  /** Prometheus text for `/metrics`; the route answers 404 without it. */
  renderMetrics?: () => Promise<string>;
}

/** The running HTTP + WebSocket front door. */
export interface Transport {
  readonly httpServer: Server;
  readonly wss: WebSocketServer;
  /** Every WebSocket connection and its state. */
  readonly connections: ConnectionRegistry;
  /** Starts listening on config host/port (port 0 = a free one). */
  listen(): Promise<{ url: string; port: number }>;
  /** Stops accepting new connections and requests (keeps open sockets). */
  stopAccepting(): void;
  /** Tells WS clients to reconnect, then closes every socket with `code`. */
  closeConnections(code?: number): Promise<void>;
  /** True once stopping began. */
  readonly stopping: boolean;
}

const TRPC_PATH = '/trpc';

/**
 * One `node:http` server: tRPC over HTTP (batch) and SSE at `/trpc`, WebSocket upgrade on
 * the same path, health probes and metrics. Only wiring: no domain logic here.
 */
export function createTransport(opts: TransportOptions): Transport {
  const { services } = opts;
  const { config, logger } = services;
  let stopping = false;
  const connections = createConnectionRegistry(logger);

  const trpcHandler = createHTTPHandler({
    router: appRouter,
    basePath: TRPC_PATH,
    maxBodySize: config.http.maxBodyBytes,
    maxBatchSize: config.http.maxBatchSize,
    createContext: ({ req, res, info }) =>
      resolveContext({
        services,
        transport: info.type === 'subscription' ? 'sse' : 'http',
        token: bearerToken(req) ?? info.connectionParams?.['token'],
        connectionId: null,
        sink:
          info.type === 'subscription'
            ? { bufferedAmount: () => res.writableLength, close: () => res.destroy() }
            : null,
      }),
    onError: ({ error, path }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') logger.error({ err: error.cause ?? error, path }, 'http error');
    },
  });
  const health = createHealthHandler(services, () => stopping);

  const httpServer = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === TRPC_PATH || path.startsWith(`${TRPC_PATH}/`)) {
      if (stopping) {
        res.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
        res.end(JSON.stringify({ error: { message: 'server is stopping', appCode: 'UNAVAILABLE' } }));
        return;
      }
      trpcHandler(req, res);
      return;
    }
    if (path === '/metrics' && opts.renderMetrics) {
      opts
        .renderMetrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
          res.end(text);
        })
        .catch((err: unknown) => {
          logger.error({ err }, 'metrics render failed');
          res.writeHead(500).end();
        });
      return;
    }
    health(req, res, path)
      .then((handled) => {
        if (!handled) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: `no route for ${path}` } }));
        }
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'health handler failed');
        res.writeHead(500).end();
      });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: config.ws.maxPayloadBytes });
  const onConnection = getWSConnectionHandler({
    wss,
    router: appRouter,
    maxBatchSize: config.http.maxBatchSize,
    keepAlive: { enabled: true, pingMs: config.ws.pingMs, pongWaitMs: config.ws.pongWaitMs },
    createContext: async ({ res, info }) => {
      const conn = connections.get(res);
      // Operations on a connection that is closing or closed are refused.
      if (!conn || conn.state !== 'authenticating') {
        throw new AppError('UNAVAILABLE', 'connection is closed');
      }
      const ctx = await resolveContext({
        services,
        transport: 'ws',
        token: info.connectionParams?.['token'],
        connectionId: conn.id,
        sink: conn.sink,
      });
      conn.userId = ctx.principal?.userId ?? null;
      if (!conn.transition('active')) throw new AppError('UNAVAILABLE', 'connection is closed');
      return ctx;
    },
    onError: ({ error, path }) => {
      if (error.code === 'INTERNAL_SERVER_ERROR') logger.error({ err: error.cause ?? error, path }, 'ws error');
    },
  });

  httpServer.on('upgrade', (req: IncomingMessage, socket, head) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== TRPC_PATH || stopping) {
      socket.end(`HTTP/1.1 ${stopping ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = connections.add(ws);
      // Upgraded: waiting for credentials (the connectionParams frame, or none).
      conn.transition('authenticating');
      ws.once('close', (code) => logger.debug({ connection_id: conn.id, code }, 'ws closed'));
      onConnection(ws, req);
    });
  });
  httpServer.on('clientError', (err, socket) => {
    logger.debug({ err }, 'http client error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  return {
    httpServer,
    wss,
    connections,
    get stopping() {
      return stopping;
    },
    listen: () =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => {
          httpServer.off('error', reject);
          const { port } = httpServer.address() as AddressInfo;
          resolve({ url: `http://${config.host}:${port}`, port });
        });
      }),
    stopAccepting() {
      stopping = true;
      httpServer.close();
    },
    async closeConnections(code = CLOSE_CODES.SHUTDOWN) {
      const reconnect = JSON.stringify({ id: null, method: 'reconnect' });
      for (const ws of wss.clients) if (ws.readyState === ws.OPEN) ws.send(reconnect);
      const closed = [...wss.clients].map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            ws.once('close', () => resolve());
            const conn = connections.get(ws);
            if (conn) conn.close(code, 'server shutting down');
            else ws.close(code, 'server shutting down');
            setTimeout(() => {
              ws.terminate();
              resolve();
            }, 2_000).unref();
          }),
      );
      await Promise.all(closed);
      wss.close();
      httpServer.closeAllConnections();
    },
  };
}
