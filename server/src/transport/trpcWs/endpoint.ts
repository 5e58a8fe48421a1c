/**
 * The WebSocket endpoint: tRPC's WebSocket protocol served by this adapter alone, from the
 * upgrade to the close. What it shares with tRPC's `applyWSSHandler` is the wire (proven by
 * `parity.test.ts` beside it); what it adds is listed in docs/architecture.md: inbound
 * screening, a bounded handshake, per-subscription writers, answers within a budget, and the
 * one-clock keepalive of the connection registry.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CLOSE_CODES } from '@tracewire/shared';
import { WebSocketServer, type WebSocket } from 'ws';
import { WsConnection } from './connection.js';
import { rootConfigOf } from './trpcProtocol.js';
import type { EndpointState, TrpcWsOptions } from './types.js';

/** A running endpoint. */
export interface TrpcWsEndpoint {
  /** The `ws` server (no HTTP server of its own: upgrades are handed to it). */
  readonly wss: WebSocketServer;
  /** Completes an HTTP upgrade the caller accepted (path, origin and state checked). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Tells every open client to reconnect (tRPC's `{"id":null,"method":"reconnect"}`). */
  broadcastReconnectNotification(): void;
}

/**
 * True when the client announced `?connectionParams=1`: its first frame then carries its
 * credentials. The query is read as tRPC reads it (`URLSearchParams`, so `%31` is `1`): one
 * parser decides both what the adapter waits for and how its first frame is screened.
 */
export function expectsConnectionParams(url: string | undefined): boolean {
  try {
    return new URL(url ?? '/', 'http://localhost').searchParams.get('connectionParams') === '1';
  } catch {
    return false;
  }
}

const ignore = () => undefined;

/** Creates the endpoint. `maxPayloadBytes` bounds every inbound frame (close 1009 past it). */
export function createTrpcWsEndpoint<TCtx>(
  opts: TrpcWsOptions<TCtx> & { maxPayloadBytes: number },
): TrpcWsEndpoint {
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayloadBytes });
  const endpoint: EndpointState<TCtx> = { opts, config: rootConfigOf(opts.router) };
  const { registry, limits } = opts;

  /** Lets go of the sockets that have waited longest to authenticate, past the budget. */
  const trimUnauthenticated = (newest: WebSocket) => {
    while (registry.countPending() > limits.maxUnauthenticated) {
      const oldest = registry.oldestPending();
      if (!oldest || oldest.socket === newest) return;
      opts.onRefusal?.('unauthenticated_connections');
      oldest.close(
        CLOSE_CODES.TOO_MANY_CONNECTIONS,
        'too many connections waiting to authenticate',
      );
    }
  };

  const accept = (ws: WebSocket, req: IncomingMessage, socket: Duplex) => {
    const conn = registry.add(ws);
    if (opts.admitSocket && !opts.admitSocket(conn)) {
      ws.on('error', ignore);
      return;
    }
    conn.transition('authenticating');
    conn.awaitAuth(limits.authTimeoutMs);
    trimUnauthenticated(ws);
    new WsConnection({
      endpoint,
      ws,
      socket,
      conn,
      expectsParams: expectsConnectionParams(req.url),
    });
  };

  return {
    wss,
    handleUpgrade(req, socket, head) {
      wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req, socket));
    },
    broadcastReconnectNotification() {
      const text = JSON.stringify({ id: null, method: 'reconnect' });
      for (const ws of wss.clients) if (ws.readyState === ws.OPEN) ws.send(text);
    },
  };
}
