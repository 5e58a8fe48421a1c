/**
 * Log correlation without module patching: a pino `mixin` that adds the active span's ids
 * (field names match `@opentelemetry/instrumentation-pino`). Works with ESM and bundlers.
 * @module
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';

/** Trace fields added to a log line. */
export interface TraceLogFields {
  trace_id: string;
  span_id: string;
  /** Two hex digits, e.g. `01` when sampled. */
  trace_flags: string;
}

/**
 * Returns the active span's `{ trace_id, span_id, trace_flags }`, or `{}` outside a span.
 * @example pino({ mixin: traceLogMixin })
 */
export function traceLogMixin(): TraceLogFields | Record<string, never> {
  const sc = trace.getActiveSpan()?.spanContext();
  if (!sc || !isSpanContextValid(sc)) return {};
  return {
    trace_id: sc.traceId,
    span_id: sc.spanId,
    trace_flags: (sc.traceFlags & 0xff).toString(16).padStart(2, '0'),
  };
}
