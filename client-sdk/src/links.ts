import {
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCLink,
} from '@trpc/client';
import { transformer } from '@tracewire/shared';
import { pageOrigin, type ClientState } from './availability.js';
import { ConnectionUnavailableError } from './errors.js';
import type { AppRouter } from './router.js';
import { createWsTransport } from './wsTransport.js';

/** Which transport carries which calls. */
export type TransportMode = 'ws+http' | 'ws' | 'http+sse';

/** Client-side keepAlive of the WebSocket (tRPC's own `PING`/`PONG` text frames). */
export interface KeepAliveOptions {
  /** Send `PING` after this long without any frame from the server. Default 10 000 ms. */
  intervalMs?: number | undefined;
  /** Close (and reconnect) when no `PONG` arrives within this. Default 5 000 ms. */
  pongTimeoutMs?: number | undefined;
}

/**
 * Defaults: relaxed compared with tRPC's 5 s / 1 s (too aggressive for mobile and background
 * tabs), and below the 60–100 s idle cut of common proxies. The server pings on its side too.
 */
export const DEFAULT_KEEP_ALIVE = { intervalMs: 10_000, pongTimeoutMs: 5_000 } as const;

/**
 * Any WebSocket class: the browser's, or `ws` on Node 20 (typed loosely so `ws` needs no cast;
 * it must behave like the WHATWG WebSocket, which `ws` does).
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => object;

/** Any EventSource class: the browser's, or the `eventsource` package on Node. */
export type EventSourceConstructor = new (
  url: string,
  init?: { withCredentials?: boolean },
) => object;

/** A connection state change of the WebSocket (the only stateful transport). */
export interface ConnectionStateChange {
  /** `pending`: open and usable; `connecting`: (re)connecting; `idle`: closed by `close()`. */
  state: 'idle' | 'connecting' | 'pending';
  /** Why the previous connection was lost, when it was. */
  error: Error | null;
  /** Close code of the last socket close, when one happened. */
  lastCloseCode: number | null;
}

/** Inputs to {@link buildLinks}. */
export interface BuildLinksOptions {
  url: string;
  transport: TransportMode;
  resolveToken: () => Promise<string | undefined>;
  /**
   * True when `resolveToken` can return a fresh token (`getToken`): an auth close (4001/4002)
   * is then retried once; with a static token it fails the calls and streams instead.
   */
  refreshable: boolean;
  retryDelayMs: (attempt: number) => number;
  keepAlive: KeepAliveOptions;
  /** How long a call may wait for a WebSocket that is not open (see `createWsTransport`). */
  connectTimeoutMs: number;
  WebSocket?: WebSocketConstructor | undefined;
  EventSource?: EventSourceConstructor | undefined;
  extraLinks: readonly TRPCLink<AppRouter>[];
  onConnectionStateChange?: ((change: ConnectionStateChange) => void) | undefined;
  onStateChange?: ((state: ClientState) => void) | undefined;
  onOpen: () => void;
}

/** The links of a client plus what `close()` must shut down. */
export interface BuiltLinks {
  links: TRPCLink<AppRouter>[];
  /** Where the connection stands (`client.state`). */
  readonly state: Readonly<ClientState>;
  close(): Promise<void>;
}

/**
 * Fails at creation, with the fix in the message, instead of reconnecting forever when the
 * runtime has no WebSocket / EventSource (Node 20 has neither).
 */
export function assertTransportAvailable(
  opts: Pick<BuildLinksOptions, 'transport' | 'WebSocket' | 'EventSource'>,
): void {
  const g = globalThis as { WebSocket?: unknown; EventSource?: unknown };
  if (opts.transport === 'http+sse') {
    if (!opts.EventSource && typeof g.EventSource !== 'function') {
      throw new TypeError(
        "transport 'http+sse' needs an EventSource: pass `EventSource` (Node: import { EventSource } from 'eventsource')",
      );
    }
  } else if (!opts.WebSocket && typeof g.WebSocket !== 'function') {
    throw new TypeError(
      `transport '${opts.transport}' needs a WebSocket: pass \`WebSocket\` (Node 20: import { WebSocket } from 'ws')`,
    );
  }
}

/** `http://h:p/base` → `{ http: 'http://h:p/base/trpc', ws: 'ws://h:p/base/trpc' }`. */
export function endpointUrls(url: string): { http: string; ws: string } {
  const base = url.replace(/\/+$/, '');
  const http = `${base}/trpc`;
  const ws = http.replace(/^http(s?):\/\//i, (_m, s: string) => `ws${s}://`);
  return { http, ws };
}

/** The `fetch` tRPC's HTTP links take (its type is not exported). */
type FetchLike = NonNullable<Parameters<typeof httpLink<AppRouter>>[0]['fetch']>;

/** Why an HTTP call could not reach the server, with what usually causes it. */
export function describeHttpFailure(url: string, cause: unknown): string {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const origin = pageOrigin();
  return [
    `could not reach ${url} (${reason}).`,
    'Likely causes: the server is not running or not reachable there; the URL is wrong;',
    origin
      ? `or this page’s origin (${origin}) is not allowed by the server’s TRACEWIRE_ALLOWED_ORIGINS (the browser blocks the call: CORS).`
      : 'or a proxy or firewall in between refused it.',
  ].join(' ');
}

/**
 * `fetch` for the HTTP links: a call the network (or a browser's CORS check) failed rejects
 * with a {@link ConnectionUnavailableError} that names the URL and the likely causes, not a
 * bare "Failed to fetch". Aborts pass through.
 */
function createFetch(url: string): FetchLike {
  return async (input, init) => {
    try {
      // tRPC passes the native fetch's own arguments through. The cast is needed under the
      // package's exactOptionalPropertyTypes, which the lint program does not set.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
      return await globalThis.fetch(input, init as RequestInit);
    } catch (cause) {
      if (cause instanceof Error && cause.name === 'AbortError') throw cause;
      throw new ConnectionUnavailableError({
        url,
        message: describeHttpFailure(url, cause),
        cause,
      });
    }
  };
}

/**
 * Builds the link chain: `extraLinks` (e.g. the tracing link) first, then the terminating
 * links of the chosen transport, every one with the shared superjson transformer.
 */
export function buildLinks(opts: BuildLinksOptions): BuiltLinks {
  assertTransportAvailable(opts);
  const urls = endpointUrls(opts.url);
  const authHeaders = async (): Promise<Record<string, string>> => {
    const token = await opts.resolveToken();
    return token ? { authorization: `Bearer ${token}` } : {};
  };
  const connectionParams = async (): Promise<Record<string, string>> => {
    const token = await opts.resolveToken();
    return token ? { token } : {};
  };
  // Mutations leave at once (a chat message should not wait for a batch window, ~1 ms);
  // queries issued together still share one request.
  const fetch = createFetch(urls.http);
  const http = splitLink<AppRouter>({
    condition: (op) => op.type === 'mutation',
    true: httpLink<AppRouter>({ url: urls.http, transformer, headers: authHeaders, fetch }),
    false: httpBatchLink<AppRouter>({ url: urls.http, transformer, headers: authHeaders, fetch }),
  });
  const isSubscription = (op: { type: string }) => op.type === 'subscription';

  if (opts.transport === 'http+sse') {
    const sse = httpSubscriptionLink<AppRouter, typeof EventSource>({
      url: urls.http,
      transformer,
      connectionParams,
      ...(opts.EventSource ? { EventSource: opts.EventSource as typeof EventSource } : {}),
    });
    // No connection to hold between calls: `connected` until closed.
    const state: ClientState = {
      status: 'connected',
      url: urls.http,
      everConnected: true,
      since: Date.now(),
      error: null,
      lastCloseCode: null,
    };
    return {
      links: [...opts.extraLinks, splitLink({ condition: isSubscription, true: sse, false: http })],
      state,
      close: () => {
        state.status = 'closed';
        state.since = Date.now();
        return Promise.resolve();
      },
    };
  }

  const ws = createWsTransport({
    url: urls.ws,
    resolveToken: opts.resolveToken,
    refreshable: opts.refreshable,
    retryDelayMs: opts.retryDelayMs,
    keepAlive: {
      intervalMs: opts.keepAlive.intervalMs ?? DEFAULT_KEEP_ALIVE.intervalMs,
      pongTimeoutMs: opts.keepAlive.pongTimeoutMs ?? DEFAULT_KEEP_ALIVE.pongTimeoutMs,
    },
    connectTimeoutMs: opts.connectTimeoutMs,
    WebSocket: opts.WebSocket,
    onConnectionStateChange: opts.onConnectionStateChange,
    onStateChange: opts.onStateChange,
    onOpen: opts.onOpen,
  });
  const terminal =
    opts.transport === 'ws'
      ? ws.link
      : splitLink({ condition: isSubscription, true: ws.link, false: http });
  return {
    links: [...opts.extraLinks, terminal],
    get state() {
      return ws.state;
    },
    close: () => ws.close(),
  };
}
