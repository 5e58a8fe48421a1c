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
import { hookStream } from '@tracewire/shared';

const LIVE_SEGMENT = createContextKey('tracewire.liveSegment');

/**
 * Captures the active context for later use from code that resumes outside it (a generator
 * resumed by a transport). Inside a segmented span it follows the span's current segment.
 * Returns a runner: `bind(() => work())` runs `work` in that context.
 */
export function bindActiveContext(): <T>(fn: () => T) => T {
  const active = context.active();
  const live = active.getValue(LIVE_SEGMENT) as SegmentedSpanImpl | undefined;
  return (fn) => context.with(live ? live.context : active, fn);
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
  return new SegmentedSpanImpl(opts);
}

/**
 * When the open segments of one cap are due to rotate: one timer for all of them instead of
 * one per span (a server holds a segmented span per open subscription). Spans of one cap
 * are due in the order they were scheduled, so the map's insertion order is the due order.
 */
class RotationQueue {
  readonly #due = new Map<SegmentedSpanImpl, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly ms: number) {}

  add(span: SegmentedSpanImpl): void {
    this.#due.delete(span);
    this.#due.set(span, Date.now() + this.ms);
    if (this.#timer === undefined) this.#arm(this.ms);
  }

  delete(span: SegmentedSpanImpl): void {
    this.#due.delete(span);
    if (this.#due.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#run(), ms);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #run(): void {
    this.#timer = undefined;
    const now = Date.now();
    for (const [span, at] of this.#due) {
      if (at > now) {
        this.#arm(at - now);
        return;
      }
      // Rotating schedules the span again, at the end of the map: the loop stops there.
      this.#due.delete(span);
      span.rotate();
    }
  }
}

const rotationQueues = new Map<number, RotationQueue>();
const rotationQueueFor = (ms: number): RotationQueue => {
  let q = rotationQueues.get(ms);
  if (!q) rotationQueues.set(ms, (q = new RotationQueue(ms)));
  return q;
};

/** Held instead of a span's attributes once no later segment needs them (never written). */
const NO_ATTRIBUTES: Attributes = Object.freeze({});

/**
 * A class rather than a closure per method: a subscription holds its span for as long as it
 * is open, and servers hold tens of thousands of idle subscriptions.
 */
class SegmentedSpanImpl implements SegmentedSpan {
  /** What later segments are opened from; dropped when there will be none (see #schedule). */
  #opts: SegmentedSpanOptions | null;
  /** Copied lazily, on the first `setAttribute`: most spans never change theirs. */
  #attributes: Attributes;
  #ownAttributes = false;
  #segment = 1;
  #ended = false;
  #span: Span;
  #ctx: Context;
  /** Where this span waits for its next rotation, while it has one. */
  #rotation: RotationQueue | null = null;

  constructor(opts: SegmentedSpanOptions) {
    this.#opts = opts;
    this.#attributes = opts.attributes;
    this.#span = this.#open(opts, opts.links ?? []);
    this.#ctx = this.#withSpan(opts.parent, this.#span);
    this.#schedule(opts);
  }

  get span(): Span {
    return this.#span;
  }

  /** Also what `bindActiveContext` reads (the context carries this object, see LIVE_SEGMENT). */
  get context(): Context {
    return this.#ctx;
  }

  get ended(): boolean {
    return this.#ended;
  }

  setAttribute(key: string, value: string | number | boolean): void {
    if (this.#opts === null) {
      // No later segment will be opened: the open one is the only one to carry it.
      this.#span.setAttribute(key, value);
      return;
    }
    if (!this.#ownAttributes) {
      this.#attributes = { ...this.#attributes };
      this.#ownAttributes = true;
    }
    this.#attributes[key] = value;
    this.#span.setAttribute(key, value);
  }

  end(beforeEnd?: (span: Span) => void): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#rotation?.delete(this);
    this.#rotation = null;
    beforeEnd?.(this.#span);
    this.#span.end();
  }

  #open(opts: SegmentedSpanOptions, links: Link[]): Span {
    return opts.tracer.startSpan(
      opts.name,
      {
        kind: opts.kind,
        attributes: { ...this.#attributes, [ATTR_TRACEWIRE_SPAN_SEGMENT]: this.#segment },
        links,
      },
      opts.parent,
    );
  }

  #withSpan(parent: Context, s: Span): Context {
    return trace.setSpan(parent, s).setValue(LIVE_SEGMENT, this);
  }

  #schedule(opts: SegmentedSpanOptions): void {
    const { maxSegmentMs } = opts;
    // An unsampled (or disabled) span is never exported: no segments, no timer, and nothing
    // kept to open them (options, parent context, attributes) held per stream.
    if (!(maxSegmentMs > 0 && Number.isFinite(maxSegmentMs)) || !this.#span.isRecording()) {
      this.#opts = null;
      this.#attributes = NO_ATTRIBUTES;
      return;
    }
    // Unref'd: never keeps the process alive.
    this.#rotation ??= rotationQueueFor(maxSegmentMs);
    this.#rotation.add(this);
  }

  /** Ends the open segment and opens the next (called by its rotation queue). */
  rotate(): void {
    const opts = this.#opts;
    if (this.#ended || opts === null) return;
    const previous = this.#span;
    previous.end();
    this.#segment += 1;
    this.#span = this.#open(opts, [
      ...(opts.links ?? []),
      {
        context: previous.spanContext(),
        attributes: { 'tracewire.link.kind': 'previous_segment' },
      },
    ]);
    this.#ctx = this.#withSpan(opts.parent, this.#span);
    this.#schedule(opts);
  }
}

/**
 * Wraps `source` so every `next()`/`return()`/`throw()` runs inside `getContext()`, and calls
 * `onEnd` exactly once when the stream completes, fails, or is closed by the consumer.
 * With `getContext` null the steps run as they are called (the source binds its own work,
 * see {@link bindActiveContext}): entering a context costs microseconds per streamed event.
 * Then a source that reports its own end ({@link hookStream}) is returned as it is.
 */
export function traceAsyncIterable<T>(
  source: AsyncIterable<T>,
  getContext: (() => Context) | null,
  onEnd: (err?: unknown) => void,
): AsyncIterable<T> {
  if (getContext === null && hookStream(source, { onEnd })) return source;
  return new TracedIterable(source, getContext, onEnd);
}

/** Runs `fn` in `getContext()`, or as it is when there is none. */
const enter = <R>(getContext: (() => Context) | null, fn: () => R): R =>
  getContext ? context.with(getContext(), fn) : fn();

/**
 * The iterable of {@link traceAsyncIterable}: classes with prototype methods instead of a
 * closure per step function, since each open subscription holds one for as long as it lasts.
 */
class TracedIterable<T> implements AsyncIterable<T> {
  readonly source: AsyncIterable<T>;
  readonly getContext: (() => Context) | null;
  #onEnd: ((err?: unknown) => void) | null;

  constructor(
    source: AsyncIterable<T>,
    getContext: (() => Context) | null,
    onEnd: (err?: unknown) => void,
  ) {
    this.source = source;
    this.getContext = getContext;
    this.#onEnd = onEnd;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return new TracedIterator(this);
  }

  /** Calls `onEnd` once, whichever iterator ends first (completed, failed or closed). */
  finish(err?: unknown): void {
    const onEnd = this.#onEnd;
    if (!onEnd) return;
    this.#onEnd = null;
    onEnd(err);
  }
}

class TracedIterator<T> implements AsyncIterator<T> {
  readonly #owner: TracedIterable<T>;
  readonly #it: AsyncIterator<T>;

  constructor(owner: TracedIterable<T>) {
    this.#owner = owner;
    this.#it = enter(owner.getContext, () => owner.source[Symbol.asyncIterator]());
  }

  next(): Promise<IteratorResult<T>> {
    const it = this.#it;
    return this.#step(() => it.next());
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    const it = this.#it;
    return this.#step(async () =>
      it.return ? it.return(value) : { done: true as const, value: value as T },
    ).finally(() => this.#owner.finish());
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    const it = this.#it;
    return this.#step(async () => {
      if (it.throw) return it.throw(err);
      throw err;
    });
  }

  // Not an async function: one promise per step (this runs once per streamed event).
  #step(run: () => Promise<IteratorResult<T>>): Promise<IteratorResult<T>> {
    const owner = this.#owner;
    const fail = (err: unknown): never => {
      owner.finish(err);
      throw err;
    };
    try {
      return enter(owner.getContext, run).then((r) => {
        if (r.done) owner.finish();
        return r;
      }, fail);
    } catch (err) {
      // A synchronous throw still settles as a rejection carrying the same error.
      return Promise.resolve().then(() => fail(err));
    }
  }
}
