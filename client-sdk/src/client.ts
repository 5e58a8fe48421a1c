import type { TracerProvider } from '@opentelemetry/api';
import { createTracingLink } from '@tracewire/otel';
import { createTRPCClient, type TRPCClient, type TRPCLink } from '@trpc/client';
import { DEFAULT_CONNECT_TIMEOUT_MS, type ClientState } from './availability.js';
import { createBackoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import {
  buildLinks,
  type ConnectionStateChange,
  type EventSourceConstructor,
  type KeepAliveOptions,
  type WebSocketConstructor,
  type TransportMode,
} from './links.js';
import type { AppRouter } from './router.js';
import { sendWithRetry, type SendOptions } from './send.js';
import { createRunStream, type RunStream, type StreamRunOptions } from './streamRun.js';
import { openThreadStream, type EventsOptions, type ThreadStream } from './threadStream.js';
import { emptyStats, type SendResult, type StreamStats } from './types.js';

/** Options of {@link createTracewireClient}. */
export interface TracewireClientOptions {
  /** HTTP base URL of the server, e.g. `http://127.0.0.1:3000` (`/trpc` is appended). */
  url: string;
  /** Static bearer token (JWT). */
  token?: string | undefined;
  /** Called on every (re)connect and HTTP request; wins over `token`. Use it to refresh tokens. */
  getToken?: (() => string | Promise<string>) | undefined;
  /** WebSocket class for runtimes without one (Node 20: `import { WebSocket } from 'ws'`). */
  WebSocket?: WebSocketConstructor | undefined;
  /** EventSource class for `http+sse` on runtimes without one (Node: `import { EventSource } from 'eventsource'`). */
  EventSource?: EventSourceConstructor | undefined;
  /**
   * `ws+http` (default): subscriptions over WebSocket, queries/mutations over HTTP batch.
   * `ws`: everything over the WebSocket. `http+sse`: subscriptions over Server-Sent Events.
   */
  transport?: TransportMode | undefined;
  /** Reconnect / resubscribe / send-retry delays: full jitter, base·2^attempt, capped. */
  retry?: Pick<BackoffOptions, 'baseMs' | 'maxMs'> | undefined;
  /** WebSocket keepAlive intervals (always on). */
  keepAlive?: KeepAliveOptions | undefined;
  /**
   * How long a call may wait for a WebSocket that is not open. Past it (a server that is
   * down, a wrong URL, an origin the server refuses) the waiting calls and not-yet-started
   * subscriptions fail with `UNAVAILABLE` (a `ConnectionUnavailableError` naming the URL and
   * the likely causes), new calls fail at once, and the client keeps reconnecting in the
   * background; `client.state.status` is `unavailable` until a socket opens. Default 10 000.
   */
  connectTimeoutMs?: number | undefined;
  /** WebSocket connection state changes (connecting / pending = open / idle = closed). */
  onConnectionStateChange?: ((change: ConnectionStateChange) => void) | undefined;
  /** Every change of {@link TracewireClient.state}: show it (connecting, unavailable, ...). */
  onStateChange?: ((state: ClientState) => void) | undefined;
  /** Links run before the terminating links (after the tracing link). */
  extraLinks?: readonly TRPCLink<AppRouter>[] | undefined;
  /**
   * Tracing: a CLIENT span per call and a CONSUMER span per received event, with trace
   * context and a request id sent in `input._meta`. Uses the global OpenTelemetry API (a
   * no-op until the app registers a provider) or the provider given here; the SDK never
   * creates one. `false` turns the link off.
   */
  tracing?: false | { tracerProvider?: TracerProvider | undefined } | undefined;
}

/** Client-wide counters: every stream's delivery counters summed, plus WS reconnects. */
export interface ClientStats extends StreamStats {
  /** WebSocket connections opened after the first one. */
  reconnects: number;
}

/** The fully typed tRPC client of a Tracewire server. */
export type TracewireTRPCClient = TRPCClient<AppRouter>;

/** What {@link createTracewireClient} returns. */
export interface TracewireClient {
  /** The typed tRPC client: `client.trpc.chat.createThread.mutate({ title })` and so on. */
  readonly trpc: TracewireTRPCClient;
  /** A thread's events with dedup, gap repair and resume (see {@link ThreadStream}). */
  events(threadId: string, opts?: EventsOptions): ThreadStream;
  /** Sends a message and yields that run's events until its terminal event. */
  streamRun(threadId: string, content: string, opts?: StreamRunOptions): RunStream;
  /** `chat.send` with a generated idempotency key, retried after connection drops. */
  send(
    threadId: string,
    content: string,
    opts?: SendOptions,
  ): Promise<SendResult & { clientMessageId: string }>;
  /** Counters for tests and dashboards. */
  readonly stats: Readonly<ClientStats>;
  /** Where the connection stands: `connecting`, `connected`, `unavailable`, `refused`, `closed`. */
  readonly state: Readonly<ClientState>;
  /** Ends every stream and closes the WebSocket. Idempotent. */
  close(): Promise<void>;
  /** `await using client = createTracewireClient(...)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const addStats = (into: StreamStats, from: Readonly<StreamStats>) => {
  for (const key of Object.keys(into) as (keyof StreamStats)[]) into[key] += from[key];
};

/**
 * Creates a Tracewire client: the typed tRPC client on superjson links (WS + HTTP batch by
 * default), auth on every transport, reconnect with full-jitter backoff and resume from the
 * last event id, plus the `events` / `streamRun` / `send` helpers with the SDK's delivery
 * guarantees. Runtime code imports no Node module; pass `WebSocket`/`EventSource` on Node.
 */
export function createTracewireClient(opts: TracewireClientOptions): TracewireClient {
  const backoffOpts = {
    baseMs: opts.retry?.baseMs ?? DEFAULT_BACKOFF.baseMs,
    maxMs: opts.retry?.maxMs ?? DEFAULT_BACKOFF.maxMs,
  };
  const backoff = createBackoff(backoffOpts);
  const lifetime = new AbortController();
  const retired = emptyStats();
  const active = new Set<Readonly<StreamStats>>();
  let opens = 0;

  const resolveToken = async (): Promise<string | undefined> =>
    opts.getToken ? await opts.getToken() : opts.token;

  const built = buildLinks({
    url: opts.url,
    transport: opts.transport ?? 'ws+http',
    resolveToken,
    refreshable: opts.getToken !== undefined,
    retryDelayMs: backoff,
    keepAlive: opts.keepAlive ?? {},
    connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    WebSocket: opts.WebSocket,
    EventSource: opts.EventSource,
    extraLinks: [
      ...(opts.tracing === false
        ? []
        : [
            createTracingLink<AppRouter>(
              opts.tracing?.tracerProvider ? { tracerProvider: opts.tracing.tracerProvider } : {},
            ),
          ]),
      ...(opts.extraLinks ?? []),
    ],
    onConnectionStateChange: opts.onConnectionStateChange,
    onStateChange: opts.onStateChange,
    onOpen: () => {
      opens++;
    },
  });
  const trpc = createTRPCClient<AppRouter>({ links: built.links });

  const openEvents = (
    threadId: string,
    eventsOpts: EventsOptions | undefined,
    failFast: boolean,
  ): ThreadStream => {
    let ended = false;
    const stream = openThreadStream(
      {
        subscribe: (input, observer) =>
          trpc.agent.events.subscribe(input, {
            onData: (frame) => observer.onData(frame),
            onError: (error) => observer.onError(error),
            onComplete: () => observer.onComplete(),
          }),
        backoff,
        clientSignal: lifetime.signal,
        failFastUnavailable: failFast,
        onEnd: (s) => {
          ended = true;
          active.delete(s);
          addStats(retired, s);
        },
      },
      threadId,
      eventsOpts,
    );
    // A stream opened on a closed client has already ended (and been counted).
    if (!ended) active.add(stream.stats);
    return stream;
  };
  const events = (threadId: string, eventsOpts?: EventsOptions) =>
    openEvents(threadId, eventsOpts, false);

  const send: TracewireClient['send'] = (threadId, content, sendOpts) =>
    sendWithRetry(
      {
        mutate: (input, callOpts) => trpc.chat.send.mutate(input, callOpts),
        backoff,
        isClosed: () => lifetime.signal.aborted,
      },
      { threadId, content },
      sendOpts,
    );

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      lifetime.abort();
      await built.close();
    })());

  return {
    trpc,
    events,
    send,
    streamRun: (threadId, content, runOpts) =>
      createRunStream(
        {
          // A run cannot be sent without a position: an unreachable server fails it.
          openStream: (signal) => openEvents(threadId, signal ? { signal } : {}, true),
          send: (text, sendOpts) => send(threadId, text, sendOpts),
        },
        content,
        runOpts,
      ),
    get stats(): ClientStats {
      const total = { ...retired };
      for (const s of active) addStats(total, s);
      return { ...total, reconnects: Math.max(0, opens - 1) };
    },
    get state(): ClientState {
      return { ...built.state };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
