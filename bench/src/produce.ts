import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises';
import type { StreamParams } from './protocol.js';

/** Options of {@link produce}. */
export interface ProduceOptions {
  params: StreamParams;
  /** Emits event number `seq` (1-based). Awaited, so a producer can be slowed by its sink. */
  emit(seq: number): void | Promise<void>;
  /** False while the connection has too much unsent: the producer pauses (flood mode). */
  writable?: () => boolean;
  signal?: AbortSignal;
}

/** Events per macrotask in flood mode: lets I/O run between batches on every system alike. */
const BATCH = 64;

/**
 * The one producer loop every system runs (peers in their stream hub, Tracewire inside its
 * bench agent), so all produce the same events at the same pace. Returns how many it emitted.
 */
export async function produce(opts: ProduceOptions): Promise<number> {
  const { params, signal } = opts;
  let seq = 0;
  if (params.mode === 'flood') {
    const deadline = Date.now() + params.durationMs;
    while (Date.now() < deadline && !signal?.aborted) {
      if (opts.writable && !opts.writable()) {
        await sleep(1);
        continue;
      }
      for (let i = 0; i < BATCH && (!opts.writable || opts.writable()); i++) await opts.emit(++seq);
      await nextMacrotask();
    }
  } else if (params.mode === 'rate') {
    const period = 1000 / params.perSecond;
    // A random phase per stream, so a thousand streams do not all fire in the same millisecond;
    // all streams of a run begin at `startAt` when given.
    const start = Math.max(Date.now(), params.startAt ?? 0) + Math.random() * period;
    while (seq < params.count && !signal?.aborted) {
      const wait = start + seq * period - Date.now();
      if (wait > 0) await sleep(wait);
      await opts.emit(++seq);
    }
  }
  return seq;
}
