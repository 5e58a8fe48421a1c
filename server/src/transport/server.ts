import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLOSE_CODES } from '@tracewire/shared';
import type { WebSocketServer } from 'ws';
import { limitsFor, type Limits } from '../limits/index.js';
import type { Services } from '../services.js';
import type { ConnectionRegistry } from './connections.js';
import { createHealthHandler } from './health.js';
import { handleCors } from './cors.js';
import { API_SECURITY_HEADERS, setSecurityHeaders } from './httpHeaders.js';
import { createHttpTrpcHandler, TRPC_PATH } from './httpTrpc.js';
import { isOriginAllowed } from './origin.js';
import { createWsEndpoint } from './wsEndpoint.js';
import { createStaticWeb } from './staticWeb.js';

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
  /** Limit state and refusal counters (`limits.stats()` for metrics). */
  readonly limits: Limits;
  /** Starts listening on config host/port (port 0 = a free one). */
  listen(): Promise<{ url: string; port: number }>;
  /** Stops accepting new connections and requests (keeps open sockets). */
  stopAccepting(): void;
  /** Tells WS clients to reconnect, then closes every socket with `code`. */
  closeConnections(code?: number): Promise<void>;
  /** True once stopping began. */
  readonly stopping: boolean;
}

/**
 * One `node:http` server: tRPC over HTTP (batch) and SSE at `/trpc`, the WebSocket endpoint
 * on the same path, health probes and metrics. Only routing: each part is its own module.
 */
export function createTransport(opts: TransportOptions): Transport {
  const { services } = opts;
  const { config, logger } = services;
  let stopping = false;
  const limits = limitsFor(services);
  const trpcHandler = createHttpTrpcHandler(services, limits);
  const { endpoint, connections } = createWsEndpoint(services, limits);
  const health = createHealthHandler(services, () => stopping);
  const web = createStaticWeb({ config, logger });

  const httpServer = createServer((req, res) => {
    setSecurityHeaders(res, API_SECURITY_HEADERS);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === TRPC_PATH || path.startsWith(`${TRPC_PATH}/`)) {
      const cors = handleCors(req, res, config.ws.allowedOrigins);
      if (cors === 'refused') limits.hit('forbidden_origin');
      if (cors !== 'serve') return;
      if (stopping) {
        res.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
        res.end(
          JSON.stringify({ error: { message: 'server is stopping', appCode: 'UNAVAILABLE' } }),
        );
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
        if (!handled && !web(req, res, path)) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: `no route for ${path}` } }));
        }
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'health handler failed');
        res.writeHead(500).end();
      });
  });

  httpServer.on('upgrade', (req, socket, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== TRPC_PATH || stopping) {
      socket.end(
        `HTTP/1.1 ${stopping ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\n\r\n`,
      );
      return;
    }
    if (!isOriginAllowed(req.headers.origin, config.ws.allowedOrigins, req.headers.host)) {
      // Refused before the upgrade: a page from another site never gets a socket.
      limits.hit('forbidden_origin');
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    endpoint.handleUpgrade(req, socket, head);
  });
  httpServer.on('clientError', (err, socket) => {
    logger.debug({ err }, 'http client error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  const { wss } = endpoint;
  return {
    httpServer,
    wss,
    connections,
    limits,
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
      endpoint.broadcastReconnectNotification();
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
