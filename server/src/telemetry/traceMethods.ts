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
  const wrappers = new Map<string, (...args: unknown[]) => unknown>();
  /** A traced method; it looks the target's method up per call, so later patches apply. */
  const traced =
    (name: string) =>
    (...args: unknown[]) => {
      const fn = Reflect.get(target, name, target) as (...a: unknown[]) => unknown;
      if (!trace.getActiveSpan()) return fn.apply(target, args);
      return tracer.startActiveSpan(
        `${opts.component}.${name}`,
        { kind: SpanKind.CLIENT, attributes: { ...opts.attributes, 'db.operation.name': name } },
        async (span) => {
          try {
            return await fn.apply(target, args);
          } catch (err) {
            recordSpanError(span, err);
            throw err;
          } finally {
            span.end();
          }
        },
      );
    };
  // Other methods are bound once per function (hot ones, like the log's per-event `enqueue`,
  // would otherwise allocate a bound function per call); a patched method is bound anew.
  const bound = new Map<PropertyKey, { fn: unknown; bound: unknown }>();
  return new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop, t);
      if (typeof value !== 'function') return value;
      if (typeof prop === 'string' && names.has(prop)) {
        let wrapper = wrappers.get(prop);
        if (!wrapper) wrappers.set(prop, (wrapper = traced(prop)));
        return wrapper;
      }
      let entry = bound.get(prop);
      if (entry?.fn !== value) {
        entry = { fn: value, bound: (value as (...a: unknown[]) => unknown).bind(t) };
        bound.set(prop, entry);
      }
      return entry.bound;
    },
  });
}
