import { randomUUID } from 'node:crypto';
import type { UserId } from '@tracewire/shared';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { DeliverySink } from '../events/flowControl.js';

/** Lifecycle of a server-side WebSocket connection. */
export type ConnectionState = 'connecting' | 'authenticating' | 'active' | 'closing' | 'closed';

/** setTimeout's longest delay; longer timers are chained. */
const MAX_TIMEOUT_MS = 2_147_483_647;

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
  userId: UserId | null;
  /** Backpressure view of the socket for subscriptions. */
  readonly sink: DeliverySink;
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

/** Creates the registry; transitions are logged at debug and counted. */
export function createConnectionRegistry(logger: Logger): ConnectionRegistry {
  const bySocket = new Map<WebSocket, Connection>();
  const transitions: Record<string, number> = {};

  const add = (socket: WebSocket): Connection => {
    let state: ConnectionState = 'connecting';
    const id = randomUUID();
    const timers = new Map<string, ReturnType<typeof setTimeout>>();
    const clearTimer = (name: string) => {
      const t = timers.get(name);
      if (t !== undefined) clearTimeout(t);
      timers.delete(name);
    };
    const setTimer = (name: string, ms: number, fn: () => void): void => {
      clearTimer(name);
      if (state === 'closing' || state === 'closed') return;
      const step = Math.min(Math.max(0, ms), MAX_TIMEOUT_MS);
      const t = setTimeout(() => {
        timers.delete(name);
        if (ms > step) setTimer(name, ms - step, fn);
        else fn();
      }, step);
      t.unref();
      timers.set(name, t);
    };
    const conn: Connection = {
      id,
      socket,
      openedAt: Date.now(),
      userId: null,
      get state() {
        return state;
      },
      sink: {
        bufferedAmount: () => socket.bufferedAmount,
        close: (code, reason) => conn.close(code, reason),
      },
      transition(to) {
        if (!ALLOWED[state].includes(to)) return false;
        const key = `${state}->${to}`;
        transitions[key] = (transitions[key] ?? 0) + 1;
        logger.debug(
          { connection_id: id, from: state, to, user_id: conn.userId },
          'connection state',
        );
        state = to;
        if (to === 'closing' || to === 'closed')
          for (const name of [...timers.keys()]) clearTimer(name);
        if (to === 'closed') bySocket.delete(socket);
        return true;
      },
      setTimer,
      clearTimer,
      close(code, reason) {
        if (state === 'closing' || state === 'closed') return;
        conn.transition('closing');
        socket.close(code, reason);
        // A peer that never answers the close handshake is cut after a bound.
        setTimeout(() => socket.terminate(), 3_000).unref();
      },
    };
    bySocket.set(socket, conn);
    socket.once('close', () => {
      if (state !== 'closing') conn.transition('closing');
      conn.transition('closed');
    });
    return conn;
  };

  return {
    add,
    get: (socket) => bySocket.get(socket),
    all: () => bySocket.values(),
    countForUser(userId) {
      let n = 0;
      for (const c of bySocket.values()) if (c.userId === userId && c.state !== 'closing') n++;
      return n;
    },
    countLive() {
      let n = 0;
      for (const c of bySocket.values()) if (c.state !== 'closing' && c.state !== 'closed') n++;
      return n;
    },
    stats() {
      const byState: Record<ConnectionState, number> = {
        connecting: 0,
        authenticating: 0,
        active: 0,
        closing: 0,
        closed: 0,
      };
      for (const c of bySocket.values()) byState[c.state]++;
      return { open: bySocket.size, byState, transitions: { ...transitions } };
    },
  };
}
