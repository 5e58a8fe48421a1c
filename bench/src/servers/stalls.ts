import { appendFileSync } from 'node:fs';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

/** A stall of the server's event loop, or a garbage collection, at `at` (Unix ms). */
interface Entry {
  at: number;
  kind: string;
  ms: number;
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'gc-major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'gc-minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'gc-incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'gc-weakcb',
};

/**
 * Investigation aid (`BENCH_STALL_LOG=file`): records every GC pause and every event-loop
 * turn that ran 10 ms late or more, and appends them as JSON lines to `file` at exit, so
 * a latency tail can be matched against what the server was doing. Off when unset.
 */
export function watchStalls(file: string | undefined): { write(): void } | null {
  if (!file) return null;
  const entries: Entry[] = [];
  const origin = performance.timeOrigin;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
      entries.push({
        at: origin + e.startTime,
        kind: GC_KINDS[kind] ?? `gc-${kind}`,
        ms: e.duration,
      });
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  const every = 5;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - last - every;
    if (late >= 10) entries.push({ at: origin + last, kind: 'loop', ms: late });
    last = now;
  }, every);
  timer.unref();
  return {
    write() {
      gc.disconnect();
      clearInterval(timer);
      const lines = entries.map((e) => JSON.stringify(e)).join('\n');
      appendFileSync(file, `${lines}\n`);
    },
  };
}
