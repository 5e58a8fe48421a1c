import { SpanKind, trace, type Attributes } from '@opentelemetry/api';
import { recordSpanError } from '@tracewire/otel';

/** Options for {@link traceMethods}. */
export interface TraceMethodsOptions {
  /** Span name prefix, e.g. `chat_store` → `chat_store.getThread`. */
  component: string;
  /** The async methods that get a span; every other member passes through untouched. */
  methods: readonly string[];
  /** Attributes on every span (e.g. `db.system.name`). */
  attributes?: Attributes;
}

/**
 * Wraps a back end so each listed async method runs in a CLIENT span, child of the active
 * span (a call, a run). Work with no active span (timers, startup) gets no span, so nothing
 * starts a trace of its own. Methods are called on the target itself (private fields work).
 */
export function traceMethods<T extends object>(target: T, opts: TraceMethodsOptions): T {
  const tracer = trace.getTracer('@tracewire/server');
  const names = new Set(opts.methods);
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop, t);
      if (typeof value !== 'function') return value;
      let wrapped = cache.get(prop);
      if (wrapped) return wrapped;
      const fn = value as (...args: unknown[]) => unknown;
      wrapped =
        typeof prop === 'string' && names.has(prop)
          ? (...args: unknown[]) => {
              if (!trace.getActiveSpan()) return fn.apply(t, args);
              return tracer.startActiveSpan(
                `${opts.component}.${prop}`,
                {
                  kind: SpanKind.CLIENT,
                  attributes: { ...opts.attributes, 'db.operation.name': prop },
                },
                async (span) => {
                  try {
                    return await fn.apply(t, args);
                  } catch (err) {
                    recordSpanError(span, err);
                    throw err;
                  } finally {
                    span.end();
                  }
                },
              );
            }
          : fn.bind(t);
      cache.set(prop, wrapped);
      return wrapped;
    },
  });
}
