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
import { context, trace } from '@opentelemetry/api';
import { ATTR_TRACEWIRE_SPAN_SEGMENT } from './semconv.js';

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
  let ctx = trace.setSpan(opts.parent, span);
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
    ctx = trace.setSpan(opts.parent, span);
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
 */
export function traceAsyncIterable<T>(
  source: AsyncIterable<T>,
  getContext: () => Context,
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
      const it = context.with(getContext(), () => source[Symbol.asyncIterator]());
      const step = async (run: () => Promise<IteratorResult<T>>): Promise<IteratorResult<T>> => {
        try {
          const r = await context.with(getContext(), run);
          if (r.done) finish();
          return r;
        } catch (err) {
          finish(err);
          throw err;
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
