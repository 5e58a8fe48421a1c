import { ConnectionUnavailableError } from './errors.js';

/**
 * Where the client's connection stands:
 * - `connecting`: no WebSocket open yet, or it was lost and the client is reconnecting;
 * - `connected`: a WebSocket is open (for `http+sse`, which holds none: always, until closed);
 * - `unavailable`: none has been open for `connectTimeoutMs`: calls waiting for it failed with
 *   `UNAVAILABLE` and new ones fail at once, while the client keeps reconnecting;
 * - `refused`: the server closed the socket with a code reconnecting cannot fix (see `error`);
 * - `closed`: `client.close()` was called.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'unavailable' | 'refused' | 'closed';

/** `client.state`: the connection as the app should show it. */
export interface ClientState {
  status: ConnectionStatus;
  /** The WebSocket URL (`ws(s)://…/trpc`), or the HTTP endpoint for `http+sse`. */
  url: string;
  /** A WebSocket to the server has been open at least once. */
  everConnected: boolean;
  /** When `status` last changed (ms since the Unix epoch). */
  since: number;
  /** Why the client is not connected: the unavailable or refusal error, or the last close's. */
  error: Error | null;
  /** Close code of the last WebSocket close, when one happened. */
  lastCloseCode: number | null;
}

/** Default `connectTimeoutMs`: how long a call may wait for a WebSocket that is not open. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Options of {@link createAvailability}. */
export interface AvailabilityOptions {
  url: string;
  timeoutMs: number;
  /** Every change of the state. */
  onChange?: ((state: ClientState) => void) | undefined;
  /** The socket stayed down for `timeoutMs`: fail what waits for it with `error`. */
  onUnavailable: (error: ConnectionUnavailableError) => void;
}

/** Tracks {@link ClientState} for one transport and times out a connection that will not open. */
export interface Availability {
  readonly state: Readonly<ClientState>;
  /** True while calls should fail at once (`unavailable`). */
  readonly unavailable: boolean;
  /** A WebSocket opened. */
  opened(): void;
  /** No socket open (first attempt, or lost): starts the deadline unless it already runs. */
  connecting(details?: { error?: Error | null; closeCode?: number | null }): void;
  /** The server refused the connection for good (or until a new session is made). */
  refused(error: Error): void;
  /** `close()` was called: no more changes, no timer. */
  closed(): void;
}

/** A browser page's origin, for error messages (none on Node). */
export const pageOrigin = (): string | null => {
  const location = (globalThis as { location?: { origin?: unknown } }).location;
  return typeof location?.origin === 'string' && location.origin !== 'null'
    ? location.origin
    : null;
};

/** The message of {@link ConnectionUnavailableError} for a WebSocket that stayed down. */
export function describeUnavailable(opts: {
  url: string;
  timeoutMs: number;
  everConnected: boolean;
}): string {
  if (opts.everConnected) {
    return `the WebSocket to ${opts.url} has been down for ${opts.timeoutMs} ms: the server may be restarting or unreachable; the client keeps reconnecting`;
  }
  const origin = pageOrigin();
  return [
    `could not open a WebSocket to ${opts.url} within ${opts.timeoutMs} ms (it never connected).`,
    'Likely causes: the server is not running or not reachable there;',
    'the URL is wrong (pass the server’s HTTP base URL, e.g. http://127.0.0.1:3000);',
    origin
      ? `or this page’s origin (${origin}) is not in the server’s TRACEWIRE_ALLOWED_ORIGINS (browsers show a refused origin only as close 1006).`
      : 'or the server refuses this client’s Origin (TRACEWIRE_ALLOWED_ORIGINS).',
    'The client keeps reconnecting in the background.',
  ].join(' ');
}

/**
 * The connection's state and its deadline: while no WebSocket is open, a timer runs for
 * `timeoutMs` (from the first attempt, or from losing the last open socket; reconnect
 * attempts in between do not restart it). When it fires the state becomes `unavailable` and
 * `onUnavailable` fails what waits; an open socket ends it.
 */
export function createAvailability(opts: AvailabilityOptions): Availability {
  const state: ClientState = {
    status: 'connecting',
    url: opts.url,
    everConnected: false,
    since: Date.now(),
    error: null,
    lastCloseCode: null,
  };
  let timer: ReturnType<typeof setTimeout> | undefined;

  const set = (status: ConnectionStatus, error: Error | null) => {
    const changed = state.status !== status || state.error !== error;
    if (state.status !== status) state.since = Date.now();
    state.status = status;
    state.error = error;
    if (changed) opts.onChange?.({ ...state });
  };
  const stopTimer = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  const startTimer = () => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (state.status !== 'connecting') return;
      const error = new ConnectionUnavailableError({
        url: opts.url,
        message: describeUnavailable({
          url: opts.url,
          timeoutMs: opts.timeoutMs,
          everConnected: state.everConnected,
        }),
        cause: state.error ?? undefined,
      });
      set('unavailable', error);
      opts.onUnavailable(error);
    }, opts.timeoutMs);
    // A deadline must not keep a Node process alive on its own.
    (timer as { unref?: () => void }).unref?.();
  };
  startTimer();

  return {
    get state() {
      return state;
    },
    get unavailable() {
      return state.status === 'unavailable';
    },
    opened() {
      if (state.status === 'closed') return;
      stopTimer();
      state.everConnected = true;
      set('connected', null);
    },
    connecting(details = {}) {
      if (state.status === 'closed') return;
      if (details.closeCode !== undefined) state.lastCloseCode = details.closeCode;
      startTimer();
      // While unavailable, reconnect attempts keep that status (and its error).
      if (state.status === 'unavailable') return;
      set('connecting', details.error ?? state.error);
    },
    refused(error) {
      if (state.status === 'closed') return;
      stopTimer();
      set('refused', error);
    },
    closed() {
      stopTimer();
      set('closed', null);
    },
  };
}
