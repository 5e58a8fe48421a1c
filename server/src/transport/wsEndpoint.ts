/**
 * Tracewire's WebSocket endpoint: the tRPC adapter (`trpcWs/`) wired to the server's
 * services. Here: who may connect (the server-wide cap counts authenticated connections only,
 * and sockets still authenticating have their own budget), how a login is decided and
 * refused (close codes, one `warn` line), and where a subscription's events go (its own
 * writer, as the call's `sink`).
 * @module
 */
import { AppError, CLOSE_CODES, createRequestId } from '@tracewire/shared';
import { isTokenExpiredError } from '../auth/tokens.js';
import type { BaseContext } from '../context.js';
import { tagRequestId, toTRPCError } from '../errors.js';
import type { Limits } from '../limits/index.js';
import { appRouter } from '../routers/index.js';
import type { Services } from '../services.js';
import { clockTick } from './connectionClock.js';
import {
  createConnectionRegistry,
  type Connection,
  type ConnectionRegistry,
} from './connections.js';
import { resolveContext } from './context.js';
import { createTrpcWsEndpoint, type TrpcWsEndpoint, type WsErrorInfo } from './trpcWs/index.js';

/** Standard close code "try again later": the token could not be checked (key set unreachable). */
const TRY_AGAIN_LATER = 1013;

const WS_ATTRS = { 'network.protocol.name': 'websocket' };

/** The endpoint and the registry of its connections. */
export interface WsEndpoint {
  readonly endpoint: TrpcWsEndpoint;
  readonly connections: ConnectionRegistry;
}

/** Why a login is refused: its close code and reason, and the error calls waiting on it get. */
interface Refusal {
  code: number;
  reason: string;
  error: AppError;
}

/** How superjson (the wire transformer) writes a plain-JSON value: `{"json":VALUE}`. */
const superjsonPlain = (json: string) => `{"json":${json}}`;

/** Creates the endpoint for a server's services and limits. */
export function createWsEndpoint(services: Services, limits: Limits): WsEndpoint {
  const { config, logger } = services;

  /** One line per refused login: the close code and a request id (also in the error). */
  const refuse = (conn: Connection, why: Refusal): never => {
    const { code, reason, error } = why;
    const requestId = createRequestId();
    const trpcError = toTRPCError(error);
    tagRequestId(trpcError, requestId);
    logger.warn(
      { close_code: code, request_id: requestId, connection_id: conn.id, reason },
      'websocket login refused',
    );
    conn.close(code, reason.slice(0, 100));
    throw trpcError;
  };

  const connections = createConnectionRegistry(logger, {
    onClosed: () => services.metrics.connectionsActive.add(-1, WS_ATTRS),
    onAuthTimeout: (conn) => {
      limits.hit('auth_timeout');
      logger.warn(
        { close_code: CLOSE_CODES.AUTH_TIMEOUT, connection_id: conn.id },
        'websocket login timed out',
      );
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

  /** Authenticated connections (the server-wide cap counts these only). */
  const authenticated = () => connections.countLive() - connections.countPending();

  /**
   * Decides, once the token is checked, whether the connection may stay: without a valid
   * token it is closed (UNAUTHORIZED 4001, TOKEN_EXPIRED 4002 so clients fetch a fresh one,
   * 1013 when the key set is unreachable), past the server's or the user's connection limit
   * with TOO_MANY_CONNECTIONS (4009). An admitted connection is closed with TOKEN_EXPIRED when
   * its token's `exp` passes.
   */
  function admit(conn: Connection, ctx: BaseContext): void {
    const { principal } = ctx;
    if (!principal) {
      const err = ctx.authError;
      if (!err) {
        limits.hit('auth_missing');
        const missing = new AppError('UNAUTHORIZED', 'missing token in connectionParams');
        return refuse(conn, {
          code: CLOSE_CODES.UNAUTHORIZED,
          reason: 'missing token',
          error: missing,
        });
      }
      if (isTokenExpiredError(err)) {
        limits.hit('auth_expired_at_connect');
        return refuse(conn, {
          code: CLOSE_CODES.TOKEN_EXPIRED,
          reason: 'token expired',
          error: err,
        });
      }
      if (err.code === 'UNAVAILABLE') {
        limits.hit('auth_unavailable');
        return refuse(conn, {
          code: TRY_AGAIN_LATER,
          reason: 'cannot verify tokens right now',
          error: err,
        });
      }
      limits.hit('auth_invalid');
      return refuse(conn, { code: CLOSE_CODES.UNAUTHORIZED, reason: err.message, error: err });
    }
    if (authenticated() >= config.limits.maxConnections) {
      limits.hit('connections_global');
      const full = new AppError('TOO_MANY_REQUESTS', 'server connection limit reached');
      return refuse(conn, {
        code: CLOSE_CODES.TOO_MANY_CONNECTIONS,
        reason: full.message,
        error: full,
      });
    }
    const max = config.limits.maxConnectionsPerUser;
    if (connections.countForUser(principal.userId) >= max) {
      limits.hit('connections_per_user');
      const over = new AppError('TOO_MANY_REQUESTS', `at most ${max} connections per user`);
      return refuse(conn, {
        code: CLOSE_CODES.TOO_MANY_CONNECTIONS,
        reason: over.message,
        error: over,
      });
    }
    conn.assignUser(principal.userId);
    if (!conn.transition('active')) throw new AppError('UNAVAILABLE', 'connection is closed');
    if (principal.expiresAt !== null) conn.expireAt(principal.expiresAt);
  }

  const onError = ({ error, path }: WsErrorInfo<BaseContext>) => {
    if (error.code === 'INTERNAL_SERVER_ERROR')
      logger.error({ err: error.cause ?? error, path }, 'ws error');
  };

  const ws = config.ws;
  const endpoint = createTrpcWsEndpoint<BaseContext>({
    router: appRouter,
    registry: connections,
    maxPayloadBytes: ws.maxPayloadBytes,
    limits: {
      maxBatchSize: config.http.maxBatchSize,
      framesPerSecond: ws.framesPerSecond,
      frameBurst: ws.frameBurst,
      maxJsonDepth: ws.maxJsonDepth,
      preAuthBytes: ws.preAuthBytes,
      authTimeoutMs: ws.authTimeoutMs,
      maxUnauthenticated: ws.maxUnauthenticated,
      responseBudgetBytes: ws.responseBudgetBytes,
      highWaterBytes: config.delivery.highWaterBytes,
      slowConsumerTimeoutMs: config.delivery.slowConsumerTimeoutMs,
    },
    plainValueFraming: superjsonPlain,
    onRefusal: (name) => limits.hit(name),
    admitSocket(conn) {
      services.metrics.connectionsActive.add(1, WS_ATTRS);
      // This socket is still authenticating: the cap is reached when the others fill it.
      if (authenticated() < config.limits.maxConnections) return true;
      limits.hit('connections_global');
      conn.close(CLOSE_CODES.TOO_MANY_CONNECTIONS, 'server connection limit reached');
      return false;
    },
    onSlowConsumer: () => {
      services.metrics.slowConsumerDisconnects.add(1, WS_ATTRS);
      logger.warn({ reason: 'answers not read' }, 'slow consumer disconnected');
    },
    async createContext({ connectionParams, connection }) {
      // Credentials for a socket that is already closing are not checked.
      if (connection.state !== 'authenticating')
        throw toTRPCError(new AppError('UNAVAILABLE', 'connection is closed'));
      const ctx = await resolveContext({
        services,
        transport: 'ws',
        token: connectionParams?.['token'],
        connectionId: connection.id,
        sink: null,
      });
      admit(connection, ctx);
      return ctx;
    },
    // Each subscription's stream gets the subscription itself as its sink: its writer.
    subscriptionContext: (ctx, sink) => ({ ...ctx, sink }),
    onError,
  });
  return { endpoint, connections };
}
