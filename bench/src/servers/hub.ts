import { benchEvent, endEvent, type BenchEvent, type StreamParams } from '../protocol.js';
import { produce } from '../produce.js';

/** Where a peer server's stream delivers: one socket, queue or room. */
export interface Sink {
  deliver(ev: BenchEvent): void;
  /** False while this sink's connection is over its high-water mark. */
  writable(): boolean;
}

/** Bytes unsent on a connection above which the producer pauses (Tracewire's default too). */
export const HIGH_WATER_BYTES = 1_048_576;

/**
 * In-memory streams for the peer servers. A stream lives on without subscribers (like a
 * Tracewire run without connections); what it emits while nobody listens is gone, since the
 * peers keep no log (Socket.IO's recovery buffer excepted).
 */
export function createHub() {
  const streams = new Map<string, { sinks: Set<Sink>; started: boolean }>();
  const get = (id: string) => {
    let s = streams.get(id);
    if (!s) streams.set(id, (s = { sinks: new Set(), started: false }));
    return s;
  };
  return {
    /** Delivers the stream's events to `sink` until the returned function is called. */
    attach(id: string, sink: Sink): () => void {
      const { sinks } = get(id);
      sinks.add(sink);
      return () => sinks.delete(sink);
    },
    /** Starts producing (once per stream); ends with an `agent_completed` event. */
    start(id: string, params: StreamParams): void {
      const s = get(id);
      if (s.started) return;
      s.started = true;
      const send = (ev: BenchEvent) => {
        for (const sink of s.sinks) sink.deliver(ev);
      };
      const writable = () => {
        for (const sink of s.sinks) if (!sink.writable()) return false;
        return true;
      };
      void produce({ params, writable, emit: (seq) => send(benchEvent(id, seq)) }).then((n) =>
        send(endEvent(id, n + 1)),
      );
    },
  };
}
