import type { DeliverySink, DirectWrite } from '../events/flowControl.js';
import type { Connection } from './connections.js';
import type { WireEncoder } from './wsEncoder.js';
import { uncorkSoon } from './writeBatch.js';

/**
 * A WebSocket connection as subscriptions see it: backpressure, close, and direct writes of
 * a followed subscription's frames (built by the wire encoder, so they are byte for byte
 * what tRPC's adapter would send). One per connection, created with its context.
 */
export class WsDeliverySink implements DeliverySink {
  constructor(
    private readonly conn: Connection,
    private readonly encoder: WireEncoder,
  ) {}

  bufferedAmount(): number {
    return this.conn.socket.bufferedAmount;
  }

  close(code: number, reason: string): void {
    this.conn.close(code, reason);
  }

  follow(marker: object, onReady: (write: DirectWrite) => void): void {
    const { socket } = this.conn;
    this.encoder.follow(marker, (build) =>
      onReady((trackedId, event) => {
        // Like the adapter: nothing is written once the socket is closing (the client
        // resumes from its last event id).
        if (socket.readyState !== socket.OPEN) return;
        socket.send(build(trackedId, event));
        uncorkSoon();
      }),
    );
  }
}
