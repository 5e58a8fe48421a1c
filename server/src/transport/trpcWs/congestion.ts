/**
 * A connection whose answers are not being read: past the high-water mark it stops reading
 * requests (the kernel's buffers then hold the client's frames, and its writes block), and
 * when its queue has not drained within the slow-consumer timeout it is closed
 * SLOW_CONSUMER, as a subscription that cannot write is. Exists only while congested: an
 * idle connection holds no timer.
 * @module
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** What congestion needs of its connection. */
export interface CongestedConnection {
  readonly endpoint: { readonly opts: { readonly limits: { slowConsumerTimeoutMs: number } } };
  /** Closes the connection SLOW_CONSUMER. */
  closeSlow(): void;
  /** The queue drained: the congestion is over. */
  drained(): void;
}

/** One episode of congestion, from the answer that passed the mark to the drain. */
export class Congestion {
  readonly #conn: CongestedConnection;
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #onDrain = () => this.#drain();

  constructor(conn: CongestedConnection, ws: WebSocket, socket: Duplex) {
    this.#conn = conn;
    this.#ws = ws;
    this.#socket = socket;
    ws.pause();
    socket.once('drain', this.#onDrain);
    this.#timer = setTimeout(() => {
      this.dispose();
      conn.closeSlow();
    }, conn.endpoint.opts.limits.slowConsumerTimeoutMs);
    this.#timer.unref();
  }

  /** Stops watching (the socket closed, or the connection is being closed). */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#socket.off('drain', this.#onDrain);
  }

  #drain(): void {
    this.dispose();
    this.#conn.drained();
    this.#ws.resume();
  }
}
