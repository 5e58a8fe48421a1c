import {
  createWSClient,
  TRPCClientError,
  wsLink,
  type OperationLink,
  type TRPCClientRuntime,
  type TRPCLink,
  type TRPCWebSocketClient,
} from '@trpc/client';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import { transformer } from '@tracewire/shared';
import { createAvailability, type ClientState } from './availability.js';
import { decideOnClose, isBackOffCloseCode, type CloseDecision } from './closePolicy.js';
import type { ConnectionRefusedError } from './errors.js';
import { createPromptCalls, type PromptCalls } from './promptCalls.js';
import type { AppRouter } from './router.js';

/** A socket that lived this long (or answered a call) worked: it resets the failure streaks. */
export const HEALTHY_SOCKET_MS = 5_000;

/** A WebSocket state change as the SDK reports it. */
export interface WsStateChange {
  state: 'idle' | 'connecting' | 'pending';
  error: Error | null;
  lastCloseCode: number | null;
}

/** Inputs to {@link createWsTransport}. */
export interface WsTransportOptions {
  /** `ws(s)://host:port/trpc`. */
  url: string;
  resolveToken: () => Promise<string | undefined>;
  /** The client has `getToken`: an auth close may be retried once with a fresh token. */
  refreshable: boolean;
  /** Reconnect delay for the n-th attempt (the SDK's full-jitter backoff). */
  retryDelayMs: (attempt: number) => number;
  keepAlive: { intervalMs: number; pongTimeoutMs: number };
  /**
   * How long a call may wait for a socket that is not open: then it fails with `UNAVAILABLE`
   * (a {@link ConnectionUnavailableError}), and so does every call while no socket opens.
   */
  connectTimeoutMs: number;
  WebSocket?: (new (url: string, protocols?: string | string[]) => object) | undefined;
  onConnectionStateChange?: ((change: WsStateChange) => void) | undefined;
  /** Every change of {@link WsTransport.state}. */
  onStateChange?: ((state: ClientState) => void) | undefined;
  onOpen: () => void;
}

/** The terminating WebSocket link and what `close()` must shut down. */
export interface WsTransport {
  link: TRPCLink<AppRouter>;
  /** Where the connection stands (`client.state`). */
  readonly state: Readonly<ClientState>;
  close(): Promise<void>;
}

type ClientError = TRPCClientError<AppRouter>;

/** A call or stream on a session. */
interface Inflight {
  /** Fails it (a refusal or an unavailable connection), once. */
  fail(error: Error): void;
  /** The server answered it (a started subscription): it rides out reconnects in tRPC. */
  live: boolean;
}

/** One tRPC wsClient; retired (closed for good) when the server refuses it. */
interface Session {
  client: TRPCWebSocketClient;
  /** Sends queries and mutations at the end of this macrotask (see promptCalls.ts). */
  prompt: PromptCalls;
  opLink: OperationLink<AppRouter> | null;
  retired: boolean;
  /** The calls and streams on this session. */
  inflight: Set<Inflight>;
  stateSub: Unsubscribable | null;
}

const isCloseEvent = (v: unknown): v is { code: number; reason?: unknown } =>
  typeof v === 'object' &&
  v !== null &&
  (v as { type?: unknown }).type === 'close' &&
  typeof (v as { code?: unknown }).code === 'number';

const refusedError = (e: Error): ClientError => TRPCClientError.from(e);

/**
 * The `wsLink` on a wsClient that obeys the server's close codes. tRPC's wsClient reconnects
 * after any close and keeps queued calls across reconnects, so after a refusal (bad or
 * expired static token, protocol error) calls would wait forever while it loops. Here the
 * wsClient is closed instead, every call and stream on it fails with a
 * {@link ConnectionRefusedError}, and a new wsClient is made on the next call (when a fresh
 * token could help; with a static token later calls fail at once).
 *
 * Nor does a call wait forever for a socket that will not open (a server that is down, a wrong
 * URL, an origin the server refuses, which a browser sees only as close 1006): once no socket
 * has been open for `connectTimeoutMs`, the calls and not-yet-started subscriptions waiting
 * fail with a {@link ConnectionUnavailableError} naming the URL and the likely causes, and so
 * do new calls until a socket opens; the wsClient keeps reconnecting meanwhile, and started
 * subscriptions stay registered and resume when it does.
 */
export function createWsTransport(opts: WsTransportOptions): WsTransport {
  let current: Session | null = null;
  let sticky: ConnectionRefusedError | null = null;
  let closed = false;
  let runtime: TRPCClientRuntime | null = null;
  let lastCloseCode: number | null = null;
  let lastOpenAt = 0;
  let answeredSinceOpen = false;
  let authRefusals = 0;
  /** Closes in a row of sockets that did not work: added to tRPC's attempt (which restarts at 0). */
  let failedSockets = 0;
  // The same close reaches the failed calls first, then onClose: decide once.
  const decisions = new WeakMap<object, CloseDecision>();
  const availability = createAvailability({
    url: opts.url,
    timeoutMs: opts.connectTimeoutMs,
    onChange: opts.onStateChange,
    onUnavailable: (error) => {
      for (const op of [...(current?.inflight ?? [])]) if (!op.live) op.fail(error);
    },
  });

  const classify = (event: { code: number; reason?: unknown }): CloseDecision => {
    const known = decisions.get(event);
    if (known) return known;
    const { code } = event;
    const healthy = answeredSinceOpen || Date.now() - lastOpenAt >= HEALTHY_SOCKET_MS;
    if (code === 4001 || code === 4002) authRefusals = healthy ? 1 : authRefusals + 1;
    failedSockets = healthy && !isBackOffCloseCode(code) ? 0 : failedSockets + 1;
    const decision = decideOnClose({
      code,
      reason: typeof event.reason === 'string' ? event.reason : '',
      refreshable: opts.refreshable,
      authRefusals,
    });
    decisions.set(event, decision);
    return decision;
  };

  const retire = (session: Session) => {
    if (session.retired) return;
    session.retired = true;
    if (current === session) current = null;
    // close() stops the reconnect loop and fails calls still queued; the state goes `idle`.
    void session.client.close().finally(() => session.stateSub?.unsubscribe());
  };

  const refuse = (session: Session, error: ConnectionRefusedError, isSticky: boolean) => {
    if (isSticky) sticky = error;
    availability.refused(error);
    for (const op of [...session.inflight]) op.fail(error);
    retire(session);
  };

  const createSession = (): Session => {
    // A new wsClient (at start, or after a refusal): its deadline starts now.
    availability.connecting();
    // Assigned right below; the callbacks only run later.
    // eslint-disable-next-line prefer-const
    let session: Session;
    const client = createWSClient({
      url: opts.url,
      connectionParams: async () => {
        const token = await opts.resolveToken();
        return token ? { token } : {};
      },
      ...(opts.WebSocket ? { WebSocket: opts.WebSocket as typeof WebSocket } : {}),
      retryDelayMs: (attempt) => {
        // A retired client must not open again (a queued call can restart its loop).
        if (session.retired) {
          void session.client.close();
          return 0;
        }
        return opts.retryDelayMs(attempt + failedSockets);
      },
      keepAlive: { enabled: true, ...opts.keepAlive },
      lazy: { enabled: false, closeMs: 0 },
      onOpen: () => {
        if (session.retired) return;
        lastOpenAt = Date.now();
        answeredSinceOpen = false;
        opts.onOpen();
      },
      onClose: (cause) => {
        if (session.retired) return;
        lastCloseCode = cause?.code ?? null;
        if (!isCloseEvent(cause)) return;
        const decision = classify(cause);
        if (decision.action === 'refuse') refuse(session, decision.error, decision.sticky);
      },
    });
    session = {
      client,
      prompt: createPromptCalls(client),
      opLink: null,
      retired: false,
      inflight: new Set(),
      stateSub: null,
    };
    session.stateSub = client.connectionState.subscribe({
      next: (s) => {
        // A retired client only reports that it went idle.
        if (session.retired && s.state !== 'idle') return;
        if (!session.retired && s.state === 'pending') availability.opened();
        if (!session.retired && s.state === 'connecting')
          availability.connecting({ error: s.error, closeCode: lastCloseCode });
        opts.onConnectionStateChange?.({ state: s.state, error: s.error, lastCloseCode });
      },
    });
    return session;
  };

  // Connect eagerly, as before: the first call does not wait for the handshake.
  current = createSession();

  /** A call's error: a refused socket's close becomes the typed refusal. */
  const mapError = (err: ClientError): ClientError => {
    if (!isCloseEvent(err.cause)) return err;
    const decision = classify(err.cause);
    return decision.action === 'refuse' ? refusedError(decision.error) : err;
  };

  const link: TRPCLink<AppRouter> = (rt) => {
    runtime = rt;
    return ({ op, next }) =>
      observable((observer) => {
        if (closed) {
          observer.error(TRPCClientError.from(new Error('the Tracewire client is closed')));
          return;
        }
        if (sticky) {
          observer.error(refusedError(sticky));
          return;
        }
        if (availability.unavailable && availability.state.error) {
          observer.error(refusedError(availability.state.error));
          return;
        }
        const session = (current ??= createSession());
        const opLink = (session.opLink ??= wsLink<AppRouter>({
          client: session.client,
          transformer,
        })(runtime!));
        const viaTrpc = () => opLink({ op, next });
        let done = false;
        let inner: Unsubscribable | null = null;
        const settle = () => {
          done = true;
          session.inflight.delete(entry);
        };
        const entry: Inflight = {
          live: false,
          fail: (error) => {
            if (done) return;
            settle();
            inner?.unsubscribe();
            observer.error(refusedError(error));
          },
        };
        session.inflight.add(entry);
        inner = (session.prompt.request(op, viaTrpc) ?? viaTrpc()).subscribe({
          next: (envelope) => {
            if (envelope.result.type !== 'state') {
              answeredSinceOpen = true;
              authRefusals = 0;
              failedSockets = 0;
              entry.live = true;
            }
            observer.next(envelope);
          },
          error: (err) => {
            if (done) return;
            settle();
            observer.error(mapError(err));
          },
          complete: () => {
            if (done) return;
            settle();
            observer.complete();
          },
        });
        return () => {
          settle();
          inner?.unsubscribe();
        };
      });
  };

  return {
    link,
    get state() {
      return availability.state;
    },
    close: async () => {
      closed = true;
      availability.closed();
      const session = current;
      current = null;
      if (!session || session.retired) return;
      session.retired = true;
      await session.client.close();
      session.stateSub?.unsubscribe();
    },
  };
}
