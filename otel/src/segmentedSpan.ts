/**
 * A span that covers a long stream in capped segments, and an async-iterable wrapper that runs
 * every step of a subscription inside that span's context.
 *
 * tRPC iterates a subscription's generator after the middleware returned, from the adapter's own
 * async context, so without the wrapper agent and tool spans fall out of the trace
 * (reference/opentelemetry.md §3.1). Long spans are exported only when they end, so they are cut
 * every `maxSegmentMs` and re-opened with a link to the previous segment.
 * @module
 */
import type { Attributes, Context, Link, Span, SpanKind, Tracer } from '@opentelemetry/api';
import { context, createContextKey, trace } from '@opentelemetry/api';
import { ATTR_TRACEWIRE_SPAN_SEGMENT } from './semconv.js';

const LIVE_SEGMENT = createContextKey('tracewire.liveSegment');

/**
 * Captures the active context for later use from code that resumes outside it (a generator
 * resumed by a transport). Inside a segmented span it follows the span's current segment.
 * Returns a runner: `bind(() => work())` runs `work` in that context.
 */
export function bindActiveContext(): <T>(fn: () => T) => T {
  const active = context.active();
  const live = active.getValue(LIVE_SEGMENT) as (() => Context) | undefined;
  return (fn) => context.with(live ? live() : active, fn);
}

/** Options for {@link createSegmentedSpan}. */
export interface SegmentedSpanOptions {
  tracer: Tracer;
  name: string;
  kind: SpanKind;
  /** Parent of every segment (all segments stay in the same trace). */
  parent: Context;
  attributes: Attributes;
  links?: Link[];
  /** Cap per segment; `0` or `Infinity` disables the cap. */
  maxSegmentMs: number;
}

/** A span split in linked segments; `end` is idempotent. */
export interface SegmentedSpan {
  /** The open segment. */
  readonly span: Span;
  /** Context with the open segment active. */
  readonly context: Context;
  /** Sets an attribute on the open segment and on segments opened later. */
  setAttribute(key: string, value: string | number | boolean): void;
  /** Ends the open segment; `beforeEnd` runs first on it (status, error). */
  end(beforeEnd?: (span: Span) => void): void;
  readonly ended: boolean;
}

/** Starts the first segment and a timer that rotates it every `maxSegmentMs` (unref'd: never keeps the process alive). */
export function createSegmentedSpan(opts: SegmentedSpanOptions): SegmentedSpan {
  const attributes: Attributes = { ...opts.attributes };
  let segment = 1;
  let ended = false;
  const open = (links: Link[]): Span =>
    opts.tracer.startSpan(
      opts.name,
      {
        kind: opts.kind,
        attributes: { ...attributes, [ATTR_TRACEWIRE_SPAN_SEGMENT]: segment },
        links,
      },
      opts.parent,
    );
  let span = open(opts.links ?? []);
  // The context also carries a getter of the live segment's context (see bindActiveContext).
  const live = (): Context => ctx;
  const withSpan = (s: Span) => trace.setSpan(opts.parent, s).setValue(LIVE_SEGMENT, live);
  let ctx = withSpan(span);
  let timer: ReturnType<typeof setTimeout> | undefined;

  const schedule = () => {
    if (!(opts.maxSegmentMs > 0 && Number.isFinite(opts.maxSegmentMs))) return;
    // An unsampled (or disabled) span is never exported: no segments, no timer held per stream.
    if (!span.isRecording()) return;
    timer = setTimeout(rotate, opts.maxSegmentMs);
    (timer as { unref?: () => void }).unref?.();
  };
  function rotate() {
    if (ended) return;
    const previous = span;
    previous.end();
    segment += 1;
    span = open([
      ...(opts.links ?? []),
      {
        context: previous.spanContext(),
        attributes: { 'tracewire.link.kind': 'previous_segment' },
      },
    ]);
    ctx = withSpan(span);
    schedule();
  }
  schedule();

  return {
    get span() {
      return span;
    },
    get context() {
      return ctx;
    },
    get ended() {
      return ended;
    },
    setAttribute(key, value) {
      attributes[key] = value;
      span.setAttribute(key, value);
    },
    end(beforeEnd) {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      beforeEnd?.(span);
      span.end();
    },
  };
}

/**
 * Wraps `source` so every `next()`/`return()`/`throw()` runs inside `getContext()`, and calls
 * `onEnd` exactly once when the stream completes, fails, or is closed by the consumer.
 * With `getContext` null the steps run as they are called (the source binds its own work,
 * see {@link bindActiveContext}): entering a context costs microseconds per streamed event.
 */
export function traceAsyncIterable<T>(
  source: AsyncIterable<T>,
  getContext: (() => Context) | null,
  onEnd: (err?: unknown) => void,
): AsyncIterable<T> {
  let finished = false;
  const finish = (err?: unknown) => {
    if (finished) return;
    finished = true;
    onEnd(err);
  };
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const enter = getContext
        ? <R>(fn: () => R): R => context.with(getContext(), fn)
        : <R>(fn: () => R): R => fn();
      const it = enter(() => source[Symbol.asyncIterator]());
      const settle = (r: IteratorResult<T>) => {
        if (r.done) finish();
        return r;
      };
      const fail = (err: unknown): never => {
        finish(err);
        throw err;
      };
      // Not an async function: one promise per step (this runs once per streamed event).
      const step = (run: () => Promise<IteratorResult<T>>): Promise<IteratorResult<T>> => {
        try {
          return enter(run).then(settle, fail);
        } catch (err) {
          // A synchronous throw still settles as a rejection carrying the same error.
          return Promise.resolve().then(() => fail(err));
        }
      };
      return {
        next: () => step(() => it.next()),
        return: (value?: unknown) =>
          step(async () =>
            it.return ? it.return(value) : { done: true, value: value as T },
          ).finally(() => finish()),
        throw: (err?: unknown) =>
          step(async () => {
            if (it.throw) return it.throw(err);
            throw err;
          }),
      };
    },
  };
}
