import { CLOSE_CODES, type StreamEvent } from '@tracewire/shared';

/**
 * Writes one tracked event of one subscription to its connection: for a WebSocket, the
 * subscription's own writer, bound to its wire id, which frames it exactly as tRPC's adapter
 * would. `json` is the event's exact JSON when the event log handed it out (see
 * `plainJsonText`), so an event is encoded once however many subscribers it reaches.
 */
export type EventWriter = (trackedId: string, event: StreamEvent, json: string | undefined) => void;

/**
 * Where one subscription's events go, as the core sees it. The transport implements it: for a
 * WebSocket one per subscription (its writer), for an SSE response one per stream. Keeps
 * delivery free of `ws` and `node:http`.
 */
export interface DeliverySink {
  /** Bytes accepted for this connection but not yet handed to the network. */
  bufferedAmount(): number;
  /** Closes the connection with a close code (SSE: ends the response). */
  close(code: number, reason: string): void;
  /**
   * Push transports (WebSocket): the one way this subscription's events reach the socket. The
   * stream then writes every item itself, and its iterator's `next()` settles only at the end.
   * Absent: the transport pulls the stream and writes what it yields (SSE, in process).
   */
  write?: EventWriter;
  /**
   * Pull transports: called as an item is handed over, so the transport can group the writes
   * of one event-loop turn (SSE: the response is corked until the turn ends).
   */
  writing?(): void;
}

/** Flow-control settings for one subscription. */
export interface FlowControl {
  sink: DeliverySink;
  /** Above this many unsent bytes the subscription stops writing and waits. */
  highWaterBytes: number;
  /** Stuck above the mark (or not pulled) this long: close with SLOW_CONSUMER. */
  slowConsumerTimeoutMs: number;
  /** Called once when the connection is closed as a slow consumer. */
  onSlowConsumer?: () => void;
  /** Called when a write must wait, with the bytes queued on the connection. */
  onWait?: (queuedBytes: number) => void;
}

const POLL_MS = 5;

/**
 * Waits until the sink drains below half the high-water mark. Resolves false (after
 * closing the connection with SLOW_CONSUMER) when that takes longer than the timeout,
 * and false when the signal aborts. Only slow consumers ever get here: the caller checks
 * `bufferedAmount()` synchronously first.
 */
export async function waitWritable(flow: FlowControl, signal: AbortSignal): Promise<boolean> {
  flow.onWait?.(flow.sink.bufferedAmount());
  const deadline = Date.now() + flow.slowConsumerTimeoutMs;
  const lowWater = flow.highWaterBytes / 2;
  while (!signal.aborted) {
    if (flow.sink.bufferedAmount() <= lowWater) return true;
    if (Date.now() >= deadline) {
      closeSlowConsumer(flow);
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return false;
}

/** Closes the connection with the documented, reconnectable SLOW_CONSUMER code. */
export function closeSlowConsumer(flow: FlowControl): void {
  flow.onSlowConsumer?.();
  flow.sink.close(CLOSE_CODES.SLOW_CONSUMER, 'slow consumer: reconnect and resume');
}
