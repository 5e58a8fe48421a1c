/**
 * Small shared helpers: the package tracer, error recording, and carrying a trace context into
 * work that runs later. Imports only `@opentelemetry/api` (browser-safe).
 * @module
 */
import type { Context, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION } from './semconv.js';

/**
 * One tracer per provider: this runs once per streamed event, and `getTracer` builds a cache
 * key (SDK) or a new no-op tracer (API without SDK) each time. The global provider is a proxy
 * whose tracers follow the SDK once it is registered; `trace.disable()` makes a new proxy.
 */
const tracers = new WeakMap<TracerProvider, Tracer>();

/** The Tracewire tracer from `provider`, or from the global API when none is given (never creates a provider). */
export function getTracewireTracer(provider?: TracerProvider): Tracer {
  const p = provider ?? trace.getTracerProvider();
  let tracer = tracers.get(p);
  if (!tracer) {
    tracer = p.getTracer(INSTRUMENTATION_SCOPE, INSTRUMENTATION_VERSION);
    tracers.set(p, tracer);
  }
  return tracer;
}

const codeOf = (v: unknown): string | undefined => {
  if (typeof v !== 'object' || v === null) return undefined;
  const code = (v as { code?: unknown }).code;
  return typeof code === 'string' && code ? code : undefined;
};

/**
 * A low-cardinality error class for `error.type`: the error's string `code` (TRPCError, AppError),
 * a TRPCClientError's `data.code`, else its `name`, else `_OTHER` (semconv fallback).
 */
export function errorTypeOf(err: unknown): string {
  const direct = codeOf(err);
  if (direct) return direct;
  const data = codeOf((err as { data?: unknown } | null)?.data);
  if (data) return data;
  return err instanceof Error && err.name ? err.name : '_OTHER';
}

/** Records `err` on `span`: exception event and `error.type`; ERROR status unless `markError` is false. */
export function recordSpanError(span: Span, err: unknown, markError = true): void {
  if (err instanceof Error) span.recordException(err);
  else span.recordException({ name: 'Error', message: String(err) });
  span.setAttribute(ATTR_ERROR_TYPE, errorTypeOf(err));
  if (markError) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: err instanceof Error ? err.message : String(err),
    });
  }
}

/**
 * Captures the active context, so work started after a call returns (an agent run started by
 * `chat.send`, events published later) still lands in the caller's trace.
 */
export function captureTraceContext(): Context {
  return context.active();
}

/** Runs `fn` with `ctx` active (see {@link captureTraceContext}); async work started inside keeps it. */
export function runInTraceContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}
