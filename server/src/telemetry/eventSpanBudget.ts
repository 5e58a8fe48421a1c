/**
 * The process's budget of per-event PRODUCER spans.
 * @module
 */
import type { EventSpanBudget, TracewireMetrics } from '@tracewire/otel';
import { createTokenBucket } from '../limits/tokenBucket.js';
import { createTurnCounter } from './turnCounter.js';

/**
 * At most `perSecond` events a second (bursts of as many) get a span of their own; the
 * others are counted in `tracewire.events.spans_skipped`, once per event-loop turn. A span
 * costs the event loop ~5 µs, and what the exporter cannot send the SDK drops anyway: past
 * the budget, events link to their run's span instead (see `startProducerSpan`).
 */
export function createEventSpanBudget(opts: {
  perSecond: number;
  metrics?: TracewireMetrics | undefined;
}): EventSpanBudget {
  const { metrics } = opts;
  const skipped = metrics
    ? createTurnCounter((counts) => {
        for (const n of counts.values()) metrics.eventSpansSkipped.add(n);
      })
    : null;
  // 0 per second: no bucket, every event is over the budget.
  const bucket =
    opts.perSecond > 0
      ? createTokenBucket({ perSecond: opts.perSecond, burst: opts.perSecond })
      : null;
  return {
    take: () => {
      if (bucket?.take().ok) return true;
      skipped?.add('');
      return false;
    },
  };
}
