import { WebSocket as WebSocketImpl, type WebSocket } from 'ws';

/** The part of a writable the batcher needs (net.Socket, http.ServerResponse). */
export interface Corkable {
  cork(): void;
  uncork(): void;
  readonly writable: boolean;
  readonly writableLength: number;
}

/** Streams corked in the current turn, uncorked together. */
const corked = new Set<Corkable>();
let microtaskQueued = false;

function uncorkAll(): void {
  microtaskQueued = false;
  if (corked.size === 0) return;
  const list = [...corked];
  corked.clear();
  for (const s of list) s.uncork();
}

/**
 * Batches the writes a connection makes within one event-loop turn into one syscall: the
 * first write of a turn corks the stream and one shared `setImmediate` uncorks all corked
 * streams, so a burst of event frames leaves as one `writev` instead of one each. Frames are
 * never held past the current turn (no timers), and `bufferedAmount` still counts corked
 * bytes, so backpressure sees them.
 */
export function batchTick(stream: Corkable): void {
  // A stream with bytes already queued is not draining (slow or stalled peer): corking it
  // gains nothing and only holds more chunks, so its writes go straight through.
  if (corked.has(stream) || !stream.writable || stream.writableLength > 0) return;
  if (corked.size === 0) setImmediate(uncorkAll);
  corked.add(stream);
  stream.cork();
}

/**
 * Uncorks once the current macrotask's synchronous work is done. The event log hands a whole
 * committed batch to its listeners in one synchronous loop, so their frames are already
 * grouped per socket; waiting for `setImmediate` would hold them for the rest of the turn,
 * or a whole extra turn when the batch itself was written from the check phase.
 */
export function uncorkSoon(): void {
  if (microtaskQueued || corked.size === 0) return;
  microtaskQueued = true;
  queueMicrotask(uncorkAll);
}

type SocketWithInternals = WebSocket & { _socket?: Corkable };
// Called with the socket as `this` (see corkedSend).
// eslint-disable-next-line @typescript-eslint/unbound-method
const wsSend = WebSocketImpl.prototype.send;

/**
 * `ws.send` for every accepted socket: tRPC writes one frame per event, and frames sent in
 * one turn leave in one `writev`. `ws` does not expose its net.Socket; `_socket` is its
 * documented-in-source field, used only here and only for cork/uncork. One shared
 * function, not a closure per connection.
 */
export function corkedSend(this: SocketWithInternals, ...args: unknown[]): void {
  const socket = this._socket;
  if (socket && typeof socket.cork === 'function') batchTick(socket);
  (wsSend as (...a: unknown[]) => void).apply(this, args);
}
