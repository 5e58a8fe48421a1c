import { randomUUID } from 'node:crypto';
import type { UserId } from '@tracewire/shared';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';

/** Lifecycle of a server-side WebSocket connection. */
export type ConnectionState = 'connecting' | 'authenticating' | 'active' | 'closing' | 'closed';

/** setTimeout's longest delay; longer timers are chained. */
const MAX_TIMEOUT_MS = 2_147_483_647;

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
  /**
   * Runs `fn` after `ms` (any length: spans past setTimeout's 24.8-day cap are chained)
   * unless cleared or the connection closes first. A timer of the same name is replaced.
   */
  setTimer(name: string, ms: number, fn: () => void): void;
  clearTimer(name: string): void;
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
  stats(): ConnectionStats;
}

/** Options of {@link createConnectionRegistry}. */
export interface ConnectionRegistryOptions {
  /** Called once per connection when its socket has closed. */
  onClosed?: (conn: Connection, code: number) => void;
}

const isLive = (s: ConnectionState) => s !== 'closing' && s !== 'closed';

/** What every connection of one registry shares (counters, logger, index). */
interface RegistryState {
  logger: Logger;
  bySocket: Map<WebSocket, ConnectionImpl>;
  transitions: Record<string, number>;
  perUser: Map<UserId, number>;
  live: number;
  onClosed: ((conn: Connection, code: number) => void) | undefined;
}

function countUser(r: RegistryState, userId: UserId, delta: number): void {
  const n = (r.perUser.get(userId) ?? 0) + delta;
  if (n > 0) r.perUser.set(userId, n);
  else r.perUser.delete(userId);
}

/**
 * A class rather than a closure per method: tens of thousands of idle connections are held
 * at once, and per-connection memory is what bounds that (timers are allocated on demand).
 */
class ConnectionImpl implements Connection {
  readonly id = randomUUID();
  readonly openedAt = Date.now();
  #state: ConnectionState = 'connecting';
  #userId: UserId | null = null;
  #timers: Map<string, ReturnType<typeof setTimeout>> | undefined;

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
    this.#state = to;
    if (!isLive(to) && this.#timers) {
      for (const t of this.#timers.values()) clearTimeout(t);
      this.#timers = undefined;
    }
    if (to === 'closed') r.bySocket.delete(this.socket);
    return true;
  }

  close(code: number, reason: string): void {
    if (!isLive(this.#state)) return;
    this.transition('closing');
    this.socket.close(code, reason);
    const socket = this.socket;
    setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_MS).unref();
  }

  setTimer(name: string, ms: number, fn: () => void): void {
    this.clearTimer(name);
    if (!isLive(this.#state)) return;
    const step = Math.min(Math.max(0, ms), MAX_TIMEOUT_MS);
    const t = setTimeout(() => {
      this.#timers?.delete(name);
      if (ms > step) this.setTimer(name, ms - step, fn);
      else fn();
    }, step);
    t.unref();
    (this.#timers ??= new Map()).set(name, t);
  }

  clearTimer(name: string): void {
    const t = this.#timers?.get(name);
    if (t === undefined) return;
    clearTimeout(t);
    this.#timers!.delete(name);
  }

  /** The socket closed: finish the state machine and report it. */
  onSocketClose(code: number): void {
    if (this.#state !== 'closing') this.transition('closing');
    this.transition('closed');
    this.registry.logger.debug({ connection_id: this.id, code }, 'ws closed');
    this.registry.onClosed?.(this, code);
  }
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
  const r: RegistryState = {
    logger,
    bySocket: new Map(),
    transitions: {},
    perUser: new Map(),
    live: 0,
    onClosed: opts.onClosed,
  };

  return {
    add(socket) {
      const conn = new ConnectionImpl(socket, r);
      r.bySocket.set(socket, conn);
      r.live++;
      registryOf.set(socket, r);
      socket.once('close', onSocketClose);
      return conn;
    },
    get: (socket) => r.bySocket.get(socket),
    all: () => r.bySocket.values(),
    countForUser: (userId) => r.perUser.get(userId) ?? 0,
    countLive: () => r.live,
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
