import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { getWSConnectionHandler } from '@trpc/server/adapters/ws';
import type { TRPCError } from '@trpc/server';
import { AppError, CLOSE_CODES } from '@tracewire/shared';
import { WebSocketServer, type WebSocket } from 'ws';
import { isTokenExpiredError } from '../auth/tokens.js';
import type { BaseContext } from '../context.js';
import { createResponseBudget, limitsFor, type Limits } from '../limits/index.js';
import { appRouter } from '../routers/index.js';
import type { Services } from '../services.js';
import {
  clockTick,
  createConnectionRegistry,
  type Connection,
  type ConnectionRegistry,
} from './connections.js';
import { httpCredentials, resolveContext } from './context.js';
import { guardFrames, type FrameGuardSettings } from './frameGuard.js';
import type { LimitName } from '../limits/counters.js';
import { createHealthHandler } from './health.js';
import { API_SECURITY_HEADERS, setSecurityHeaders } from './httpHeaders.js';
import { isOriginAllowed } from './origin.js';
import { createWireEncoder } from './wsEncoder.js';
import { ConnectionSubscriptions, type SubscriptionServerOptions } from './wsSubscriptions.js';
import { batchTick, corkedSend } from './writeBatch.js';
import { WsDeliverySink } from './wsSink.js';

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

const TRPC_PATH = '/trpc';

/** Standard close code "try again later": the token could not be checked (key set unreachable). */
const TRY_AGAIN_LATER = 1013;

/** Longest timer Node accepts; SSE expiry beyond it is not scheduled. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** Counts tRPC-level refusals (body size, batch size) reported through `onError`. */
function countAdapterRefusal(
  limits: Limits,
  error: { code: string; message: string; cause?: unknown },
): void {
  // The response budget's refusals (an AppError) are counted where they are made.
  if (error.code === 'PAYLOAD_TOO_LARGE' && !AppError.is(error.cause))
    limits.hit('http_payload_too_large');
  else if (error.message === 'Batch call exceeds maximum size') limits.hit('batch_too_large');
}

const WS_ATTRS = { 'network.protocol.name': 'websocket' };

/**
 * What tRPC's WebSocket handler keeps of the upgrade request for the connection's lifetime:
 * its URL and host, all tRPC reads (for `?connectionParams=1`). Handing it the request itself
 * kept the request, its headers and raw headers alive per connection (about 1 KB); the
 * `createContext` and `onError` below read none of it.
 */
function upgradeSummary(req: IncomingMessage): IncomingMessage {
  const summary: Pick<IncomingMessage, 'url' | 'headers'> = {
    url: req.url,
    headers: { host: req.headers.host },
  };
  return summary as IncomingMessage;
}

/**
 * One `node:http` server: tRPC over HTTP (batch) and SSE at `/trpc`, WebSocket upgrade on
 * the same path, health probes and metrics. Only wiring: no domain logic here.
 */
export function createTransport(opts: TransportOptions): Transport {
  const { services } = opts;
  const { config, logger } = services;
  let stopping = false;
  const limits = limitsFor(services);
  /** Each WebSocket's subscriptions (served beside tRPC's adapter, see wsSubscriptions.ts). */
  const subscriptions = new WeakMap<WebSocket, ConnectionSubscriptions<BaseContext>>();
  const connections = createConnectionRegistry(logger, {
    onClosed: (conn) => {
      services.metrics.connectionsActive.add(-1, WS_ATTRS);
      subscriptions.get(conn.socket)?.closeAll();
    },
    onAuthTimeout: (conn) => {
      limits.hit('auth_timeout');
      conn.close(CLOSE_CODES.AUTH_TIMEOUT, 'no connectionParams in time');
    },
    onExpired: (conn) => {
      limits.hit('token_expired_while_open');
      conn.close(CLOSE_CODES.TOKEN_EXPIRED, 'token expired');
    },
    // tRPC's own keepalive holds two timers and four closures per connection; the registry's
    // one clock does the same for every connection (the same PING/PONG frames and settings,
    // each deadline late by at most one tick).
    keepAlive: { pingMs: config.ws.pingMs, pongWaitMs: config.ws.pongWaitMs },
    tickMs: clockTick(config.ws.pingMs, config.ws.pongWaitMs, config.ws.authTimeoutMs),
  });
  const onRefusal = (name: LimitName) => limits.hit(name);
  const frameSettings: FrameGuardSettings = {
    framesPerSecond: config.ws.framesPerSecond,
    frameBurst: config.ws.frameBurst,
    maxJsonDepth: config.ws.maxJsonDepth,
    onRefusal,
  };
  /** `ws` itself closes with 1009 for frames over maxPayload; counted here. */
  const onSocketError = (err: Error & { code?: string }) => {
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') limits.hit('ws_payload_too_large');
  };

  const trpcHandler = createHTTPHandler({
    router: appRouter,
    basePath: TRPC_PATH,
    maxBodySize: config.http.maxBodyBytes,
    maxBatchSize: config.http.maxBatchSize,
    createContext: async ({ req, res, info }) => {
      const sse = info.type === 'subscription';
      if (sse && !config.http.sseEnabled) {
        throw new AppError(
          'BAD_REQUEST',
          'subscriptions over SSE are turned off on this server (TRACEWIRE_SSE_ENABLED=false): subscribe over WebSocket',
        );
      }
      if (sse) {
        // Event frames written in one turn leave in one syscall (see batchTick).
        const write = res.write.bind(res) as (...a: unknown[]) => boolean;
        res.write = ((...a: unknown[]) => {
          batchTick(res);
          return write(...a);
        }) as typeof res.write;
      }
      const ctx = await resolveContext({
        services,
        transport: sse ? 'sse' : 'http',
        ...httpCredentials({ req, sse, connectionParams: info.connectionParams }, limits),
        connectionId: null,
        sink: sse ? { bufferedAmount: () => res.writableLength, close: () => res.destroy() } : null,
        ...(sse ? {} : { responseBudget: createResponseBudget(config.http.responseBudgetBytes) }),
      });
      const expiresAt = ctx.principal?.expiresAt;
      if (sse && expiresAt) {
        // An event stream ends when its token expires; EventSource reconnects with new params.
        const ms = expiresAt - Date.now();
        if (ms <= MAX_TIMEOUT_MS) {
          const timer = setTimeout(() => res.destroy(), Math.max(0, ms));
          timer.unref();
          res.once('close', () => clearTimeout(timer));
        }
      }
      return ctx;
    },
    onError: ({ error, path }) => {
      countAdapterRefusal(limits, error);
      if (error.code === 'INTERNAL_SERVER_ERROR')
        logger.error({ err: error.cause ?? error, path }, 'http error');
    },
  });
  const health = createHealthHandler(services, () => stopping);

  const httpServer = createServer((req, res) => {
    setSecurityHeaders(res, API_SECURITY_HEADERS);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === TRPC_PATH || path.startsWith(`${TRPC_PATH}/`)) {
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
  const encoder = createWireEncoder();
  const onWsError = ({ error, path }: { error: TRPCError; path: string | undefined }) => {
    countAdapterRefusal(limits, error);
    if (error.code === 'INTERNAL_SERVER_ERROR')
      logger.error({ err: error.cause ?? error, path }, 'ws error');
  };
  const subscriptionOptions: SubscriptionServerOptions<BaseContext> = {
    router: appRouter,
    encoder,
    maxBatchSize: config.http.maxBatchSize,
    onError: onWsError,
  };
  const onConnection = getWSConnectionHandler({
    wss,
    router: appRouter,
    maxBatchSize: config.http.maxBatchSize,
    // Keepalive is the connection registry's (see above); tRPC still answers a client's PING.
    keepAlive: { enabled: false },
    // Plain tRPC JSON frames; an event's JSON is written once for all its subscribers, and
    // event streams write their frames directly once started (see WsDeliverySink).
    experimental_encoder: encoder,
    createContext: async ({ res, info }) => {
      const conn = connections.get(res);
      // Operations on a connection that is closing or closed are refused.
      if (!conn || conn.state !== 'authenticating') {
        throw new AppError('UNAVAILABLE', 'connection is closed');
      }
      conn.authReceived();
      const subs = subscriptions.get(res);
      try {
        const ctx = await resolveContext({
          services,
          transport: 'ws',
          token: info.connectionParams?.['token'],
          connectionId: conn.id,
          sink: new WsDeliverySink(conn, encoder),
        });
        admitConnection(conn, ctx);
        subs?.activate(ctx);
        return ctx;
      } catch (err) {
        subs?.fail(err);
        throw err;
      }
    },
    onError: onWsError,
  });

  /**
   * Decides, once the token is checked, whether the connection may stay: without a valid
   * token it is closed (UNAUTHORIZED 4001, or TOKEN_EXPIRED 4002 so clients fetch a fresh
   * one; 1013 when the key set is unreachable), past the per-user limit with
   * TOO_MANY_CONNECTIONS (4009). Throwing makes tRPC refuse every call already queued.
   * An admitted connection is closed with TOKEN_EXPIRED when its token's `exp` passes.
   */
  function admitConnection(conn: Connection, ctx: BaseContext): void {
    const { principal } = ctx;
    if (!principal) {
      const err =
        ctx.authError ?? new AppError('UNAUTHORIZED', 'missing token in connectionParams');
      if (!ctx.authError) {
        limits.hit('auth_missing');
        conn.close(CLOSE_CODES.UNAUTHORIZED, 'missing token');
      } else if (isTokenExpiredError(err)) {
        limits.hit('auth_expired_at_connect');
        conn.close(CLOSE_CODES.TOKEN_EXPIRED, 'token expired');
      } else if (err.code === 'UNAVAILABLE') {
        limits.hit('auth_unavailable');
        conn.close(TRY_AGAIN_LATER, 'cannot verify tokens right now');
      } else {
        limits.hit('auth_invalid');
        conn.close(CLOSE_CODES.UNAUTHORIZED, err.message.slice(0, 100));
      }
      throw err;
    }
    const max = config.limits.maxConnectionsPerUser;
    if (connections.countForUser(principal.userId) >= max) {
      limits.hit('connections_per_user');
      conn.close(CLOSE_CODES.TOO_MANY_CONNECTIONS, `at most ${max} connections per user`);
      throw new AppError('TOO_MANY_REQUESTS', `at most ${max} connections per user`);
    }
    conn.assignUser(principal.userId);
    if (!conn.transition('active')) throw new AppError('UNAVAILABLE', 'connection is closed');
    if (principal.expiresAt !== null) conn.expireAt(principal.expiresAt);
  }

  /** Sets up a freshly upgraded socket: limits, auth timeout, frame screening, then tRPC. */
  function accept(ws: WebSocket, req: IncomingMessage): void {
    ws.send = corkedSend as WebSocket['send'];
    const full = connections.countLive() >= config.limits.maxConnections;
    const conn = connections.add(ws);
    services.metrics.connectionsActive.add(1, WS_ATTRS);
    ws.on('error', onSocketError);
    if (full) {
      limits.hit('connections_global');
      conn.close(CLOSE_CODES.TOO_MANY_CONNECTIONS, 'server connection limit reached');
      return;
    }
    // Upgraded: waiting for credentials (the connectionParams frame, or none).
    conn.transition('authenticating');
    conn.awaitAuth(config.ws.authTimeoutMs);
    const subs = new ConnectionSubscriptions(ws, subscriptionOptions);
    subscriptions.set(ws, subs);
    guardFrames(ws, conn, {
      settings: frameSettings,
      expectsConnectionParams: /[?&]connectionParams=1(?:&|$)/.test(req.url ?? ''),
      diverter: subs,
    });
    onConnection(ws, upgradeSummary(req));
  }

  httpServer.on('upgrade', (req: IncomingMessage, socket, head) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== TRPC_PATH || stopping) {
      socket.end(
        `HTTP/1.1 ${stopping ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\n\r\n`,
      );
      return;
    }
    if (!isOriginAllowed(req.headers.origin, config.ws.allowedOrigins)) {
      // Refused before the upgrade: a page from another site never gets a socket.
      limits.hit('forbidden_origin');
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req));
  });
  httpServer.on('clientError', (err, socket) => {
    logger.debug({ err }, 'http client error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

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
