import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Sampling period of the loop-delay monitor (ms): 100 wake-ups per second, negligible load. */
const RESOLUTION_MS = 10;

/**
 * How late this process's event loop runs: the 99th percentile of how long a due timer
 * waited, since the last `reset()`. A latency tail shows up here on whichever side (server or
 * load generator) was too busy to run its callbacks on time.
 */
export function watchLoopDelay(): { p99Ms(): number; reset(): void } {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  return {
    // The histogram records whole intervals (ns), period included: the lateness is the rest.
    p99Ms: () =>
      h.count === 0 ? 0 : Math.round(Math.max(0, h.percentile(99) / 1e6 - RESOLUTION_MS) * 10) / 10,
    reset: () => h.reset(),
  };
}
