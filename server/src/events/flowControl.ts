import { CLOSE_CODES, type StreamEvent } from '@tracewire/shared';

/** Writes one tracked event of a followed subscription straight to its connection. */
export type DirectWrite = (trackedId: string, event: StreamEvent) => void;

/**
 * Where a subscription's bytes go, as the core sees it (the transport implements it for a
 * WebSocket or an SSE response). Keeps delivery free of `ws` and `node:http`.
 */
export interface DeliverySink {
  /** Bytes accepted for this connection but not yet handed to the network. */
  bufferedAmount(): number;
  /** Closes the connection with a close code (SSE: ends the response). */
  close(code: number, reason: string): void;
  /**
   * Offered where the transport can write a subscription's frames itself (WebSocket), the
   * same frames the RPC adapter would write, without its per-message loop. `onReady` is
   * called once, when the adapter writes the item whose event is `marker` (an object only
   * that item carries), with the writer for the items after it. `onReady` runs while that
   * frame is being written: it must not write anything itself.
   */
  follow?(marker: object, onReady: (write: DirectWrite) => void): void;
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
