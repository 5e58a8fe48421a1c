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
 * bytes, so backpressure sees them. For a WebSocket the stream is the TCP socket the upgrade
 * handed over, which `ws` writes its frames to.
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
