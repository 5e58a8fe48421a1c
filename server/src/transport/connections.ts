import { randomUUID } from 'node:crypto';
import type { UserId } from '@tracewire/shared';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { clockTick, monoNow } from './connectionClock.js';

/** Lifecycle of a server-side WebSocket connection. */
export type ConnectionState = 'connecting' | 'authenticating' | 'active' | 'closing' | 'closed';

/** A peer that never answers the close handshake is cut after this long. */
const CLOSE_HANDSHAKE_MS = 3_000;

const ALLOWED: Record<ConnectionState, readonly ConnectionState[]> = {
  connecting: ['authenticating', 'closing', 'closed'],
  authenticating: ['active', 'closing', 'closed'],
  active: ['closing', 'closed'],
  closing: ['closed'],
  closed: [],
};

/** One WebSocket connection as the server tracks it. */
export interface Connection {
  readonly id: string;
  readonly socket: WebSocket;
  readonly openedAt: number;
  readonly state: ConnectionState;
  /** The verified user, once admitted (see {@link Connection.assignUser}). */
  readonly userId: UserId | null;
  /** Records the connection's user (counted per user until it closes). */
  assignUser(userId: UserId): void;
  /** Moves to `to`; returns false (and changes nothing) for a transition the machine forbids. */
  transition(to: ConnectionState): boolean;
  /** Starts closing with a close code (idempotent). */
  close(code: number, reason: string): void;
  /** The registry's `onAuthTimeout` runs if the connection is still authenticating `ms` from now. */
  awaitAuth(ms: number): void;
  /** Credentials arrived: the auth deadline no longer applies (checking them may take a while). */
  authReceived(): void;
  /** The registry's `onExpired` runs at `epochMs` (wall clock, e.g. a token's `exp`). */
  expireAt(epochMs: number): void;
  /** An inbound frame arrived: the peer is alive (resets the keepalive). */
  heard(): void;
}

/** Counts for tests, metrics and the soak test. */
export interface ConnectionStats {
  open: number;
  byState: Record<ConnectionState, number>;
  /** Transitions made since start, by `from->to`. */
  transitions: Record<string, number>;
}

/** Tracks every WebSocket connection and its state. */
export interface ConnectionRegistry {
  /** Registers a new socket in `connecting`. */
  add(socket: WebSocket): Connection;
  get(socket: WebSocket): Connection | undefined;
  /** Live connections (not yet closed). */
  all(): IterableIterator<Connection>;
  /** Open connections of one user. */
  countForUser(userId: UserId): number;
  /** Connections not closing or closed. */
  countLive(): number;
  /** Connections that have not authenticated yet (`connecting`, `authenticating`). */
  countPending(): number;
  /** The connection that has waited longest to authenticate, if any. */
  oldestPending(): Connection | undefined;
  stats(): ConnectionStats;
}

/** Application-level keepalive: tRPC's text `PING`/`PONG` frames. */
export interface KeepAliveSettings {
  /** A `PING` goes out after this long without an inbound frame. */
  pingMs: number;
  /** The socket is terminated when nothing arrives this long after the `PING`. */
  pongWaitMs: number;
}

/** Options of {@link createConnectionRegistry}. */
export interface ConnectionRegistryOptions {
  /** Called once per connection when its socket has closed. */
  onClosed?: (conn: Connection, code: number) => void;
  /** Called when a connection's auth deadline (see {@link Connection.awaitAuth}) passes. */
  onAuthTimeout?: (conn: Connection) => void;
  /** Called when a connection's expiry (see {@link Connection.expireAt}) passes. */
  onExpired?: (conn: Connection) => void;
  /** Ping quiet peers and cut the ones that stay silent; absent: no keepalive. */
  keepAlive?: KeepAliveSettings;
  /**
   * How often deadlines are checked, which is also their resolution: a deadline fires up to
   * this much late. Default: {@link clockTick} of the keepalive settings.
   */
  tickMs?: number;
}

const isLive = (s: ConnectionState) => s !== 'closing' && s !== 'closed';

/** What every connection of one registry shares (counters, logger, index). */
interface RegistryState {
  logger: Logger;
  bySocket: Map<WebSocket, ConnectionImpl>;
  transitions: Record<string, number>;
  perUser: Map<UserId, number>;
  live: number;
  /** Connections not yet authenticated, oldest first (a Set keeps insertion order). */
  pending: Set<ConnectionImpl>;
  onClosed: ((conn: Connection, code: number) => void) | undefined;
  onAuthTimeout: ((conn: Connection) => void) | undefined;
  onExpired: ((conn: Connection) => void) | undefined;
  keepAlive: KeepAliveSettings | undefined;
  tickMs: number;
  /** The one timer that checks every connection's deadlines, while there are connections. */
  clock: ReturnType<typeof setInterval> | undefined;
}

function countUser(r: RegistryState, userId: UserId, delta: number): void {
  const n = (r.perUser.get(userId) ?? 0) + delta;
  if (n > 0) r.perUser.set(userId, n);
  else r.perUser.delete(userId);
}

/**
 * A class rather than a closure per method: tens of thousands of idle connections are held
 * at once, and per-connection memory is what bounds that. For the same reason a connection
 * holds no timers: its deadlines are numbers (monotonic ms, 0 = none) that the registry's
 * one clock checks (see {@link checkDeadlines}).
 */
class ConnectionImpl implements Connection {
  // randomUUID() builds its string by concatenation; flattened, it is one string instead of
  // a tree of fifteen (about 400 bytes per connection).
  readonly id = flat(randomUUID());
  readonly openedAt = Date.now();
  #state: ConnectionState = 'connecting';
  #userId: UserId | null = null;
  #authBy = 0;
  #expiresBy = 0;
  #closeBy = 0;
  #heardAt = monoNow();
  #pingedAt = 0;

  constructor(
    readonly socket: WebSocket,
    private readonly registry: RegistryState,
  ) {}

  get state(): ConnectionState {
    return this.#state;
  }

  get userId(): UserId | null {
    return this.#userId;
  }

  assignUser(user: UserId): void {
    const live = isLive(this.#state);
    if (this.#userId !== null && live) countUser(this.registry, this.#userId, -1);
    this.#userId = user;
    if (live) countUser(this.registry, user, 1);
  }

  transition(to: ConnectionState): boolean {
    const from = this.#state;
    if (!ALLOWED[from].includes(to)) return false;
    const r = this.registry;
    const key = `${from}->${to}`;
    r.transitions[key] = (r.transitions[key] ?? 0) + 1;
    r.logger.debug({ connection_id: this.id, from, to, user_id: this.#userId }, 'connection state');
    if (isLive(from) && !isLive(to)) {
      r.live--;
      if (this.#userId !== null) countUser(r, this.#userId, -1);
    }
    if (to !== 'authenticating') r.pending.delete(this);
    this.#state = to;
    if (to === 'closing') this.#closeBy = monoNow() + CLOSE_HANDSHAKE_MS;
    if (to === 'closed') {
      r.bySocket.delete(this.socket);
      if (r.bySocket.size === 0) stopClock(r);
    }
    return true;
  }

  close(code: number, reason: string): void {
    if (!isLive(this.#state)) return;
    this.transition('closing');
    this.socket.close(code, reason);
  }

  awaitAuth(ms: number): void {
    this.#authBy = monoNow() + Math.max(1, ms);
  }

  authReceived(): void {
    this.#authBy = 0;
  }

  expireAt(epochMs: number): void {
    this.#expiresBy = monoNow() + Math.max(1, epochMs - Date.now());
  }

  heard(): void {
    this.#heardAt = monoNow();
    this.#pingedAt = 0;
  }

  /** Acts on every deadline that has passed at `now`; run by the registry's clock. */
  checkDeadlines(now: number): void {
    const r = this.registry;
    if (this.#state === 'closing') {
      if (this.#closeBy !== 0 && now >= this.#closeBy) this.#terminate();
      return;
    }
    if (this.#state === 'closed') return;
    if (this.#authBy !== 0 && now >= this.#authBy) {
      this.#authBy = 0;
      if (this.#state === 'authenticating') r.onAuthTimeout?.(this);
    }
    if (this.#expiresBy !== 0 && now >= this.#expiresBy && isLive(this.#state)) {
      this.#expiresBy = 0;
      r.onExpired?.(this);
    }
    const ka = r.keepAlive;
    if (!ka || !isLive(this.#state)) return;
    if (this.#pingedAt === 0) {
      if (now - this.#heardAt >= ka.pingMs) {
        this.#pingedAt = now;
        this.socket.send('PING');
      }
    } else if (now - this.#pingedAt >= ka.pongWaitMs) {
      // No frame since the PING: the peer (or the path to it) is gone; no close handshake.
      r.logger.debug({ connection_id: this.id }, 'keepalive timed out');
      this.transition('closing');
      this.#terminate();
    }
  }

  /** Cuts the socket (once); its 'close' event finishes the state machine. */
  #terminate(): void {
    this.#closeBy = 0;
    this.socket.terminate();
  }

  /** The socket closed: finish the state machine and report it. */
  onSocketClose(code: number): void {
    if (this.#state !== 'closing') this.transition('closing');
    this.transition('closed');
    this.registry.logger.debug({ connection_id: this.id, code }, 'ws closed');
    this.registry.onClosed?.(this, code);
  }
}

/** A flat copy of an ASCII string built by concatenation (what `randomUUID` returns on Node 20). */
function flat(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

function startClock(r: RegistryState): void {
  if (r.clock !== undefined) return;
  r.clock = setInterval(() => {
    const now = monoNow();
    for (const conn of r.bySocket.values()) {
      // One connection's failure (a socket that throws, a handler's bug) must not stop the
      // clock for the others, nor escape as an uncaught exception.
      try {
        conn.checkDeadlines(now);
      } catch (err) {
        r.logger.error({ err, connection_id: conn.id }, 'connection deadline check failed');
      }
    }
  }, r.tickMs);
  r.clock.unref();
}

function stopClock(r: RegistryState): void {
  if (r.clock === undefined) return;
  clearInterval(r.clock);
  r.clock = undefined;
}

/** The one 'close' listener every socket gets (no closure per connection). */
function onSocketClose(this: WebSocket, code: number): void {
  // `ws` emits close once; the registry's map still holds the connection here.
  const conn = registryOf.get(this)?.bySocket.get(this);
  registryOf.delete(this);
  conn?.onSocketClose(code);
}

const registryOf = new WeakMap<WebSocket, RegistryState>();

/**
 * Creates the registry; transitions are logged at debug and counted. The live and
 * per-user counts are kept up to date on every transition, so the limit checks made on
 * each accept are O(1) (a scan made opening 10,000 connections quadratic).
 */
export function createConnectionRegistry(
  logger: Logger,
  opts: ConnectionRegistryOptions = {},
): ConnectionRegistry {
  const ka = opts.keepAlive;
  const r: RegistryState = {
    logger,
    bySocket: new Map(),
    transitions: {},
    perUser: new Map(),
    live: 0,
    pending: new Set(),
    onClosed: opts.onClosed,
    onAuthTimeout: opts.onAuthTimeout,
    onExpired: opts.onExpired,
    keepAlive: ka,
    tickMs: opts.tickMs ?? clockTick(...(ka ? [ka.pingMs, ka.pongWaitMs] : [])),
    clock: undefined,
  };

  return {
    add(socket) {
      const conn = new ConnectionImpl(socket, r);
      r.bySocket.set(socket, conn);
      r.live++;
      r.pending.add(conn);
      registryOf.set(socket, r);
      socket.once('close', onSocketClose);
      startClock(r);
      return conn;
    },
    get: (socket) => r.bySocket.get(socket),
    all: () => r.bySocket.values(),
    countForUser: (userId) => r.perUser.get(userId) ?? 0,
    countLive: () => r.live,
    countPending: () => r.pending.size,
    oldestPending: () => r.pending.values().next().value,
    stats() {
      const byState: Record<ConnectionState, number> = {
        connecting: 0,
        authenticating: 0,
        active: 0,
        closing: 0,
        closed: 0,
      };
      for (const c of r.bySocket.values()) byState[c.state]++;
      return { open: r.bySocket.size, byState, transitions: { ...r.transitions } };
    },
  };
}
