import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  context,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { HookableSource } from '../../shared/src/__tests__/hookableSource.js';
import { afterAll, describe, expect, test, vi } from 'vitest';
import {
  createTestProvider,
  isChildOf,
  useGlobalTracing,
  waitFor,
} from './__tests__/testTracing.js';
import { createSegmentedSpan, traceAsyncIterable } from './segmentedSpan.js';

const t = createTestProvider('segment-test');
const globals = useGlobalTracing();
afterAll(() => globals[Symbol.dispose]());
const tracer = t.provider.getTracer('t');

describe('segmented span', () => {
  test('caps a long span: ends it and re-opens a linked segment in the same trace', async () => {
    const root = tracer.startSpan('root');
    const seg = createSegmentedSpan({
      tracer,
      name: 'agent.events',
      kind: SpanKind.SERVER,
      parent: trace.setSpan(ROOT_CONTEXT, root),
      attributes: { 'rpc.method': 'agent.events' },
      maxSegmentMs: 30,
    });
    await waitFor(() => t.byName('agent.events').length >= 1); // the first segment was cut by the timer
    expect(seg.span.spanContext().traceId).toBe(root.spanContext().traceId);
    seg.end();
    seg.end(); // idempotent
    const all = t.byName('agent.events');
    const [first, next] = [all[0]!, all[1]!];
    expect(first.attributes['tracewire.span.segment']).toBe(1);
    expect(next.attributes['tracewire.span.segment']).toBe(2);
    expect(next.links[0]?.context.spanId).toBe(first.spanContext().spanId);
    expect(isChildOf(next, first)).toBe(false);
    expect(all.every((s) => s.parentSpanContext?.spanId === root.spanContext().spanId)).toBe(true);
    root.end();
  });

  test('runs each iterator step inside the given context and reports the end once', async () => {
    const span = tracer.startSpan('server');
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    async function* source() {
      await Promise.resolve();
      yield trace.getActiveSpan()?.spanContext().spanId;
      yield trace.getActiveSpan()?.spanContext().spanId;
    }
    const ends: unknown[] = [];
    const seen: unknown[] = [];
    const wrapped = traceAsyncIterable(
      source(),
      () => ctx,
      (err) => ends.push(err ?? 'ok'),
    );
    await context.with(ROOT_CONTEXT, async () => {
      for await (const id of wrapped) seen.push(id);
    });
    expect(seen).toEqual([span.spanContext().spanId, span.spanContext().spanId]);
    expect(ends).toEqual(['ok']);
    span.end();
  });

  test('reports a consumer return and a source error as the end of the stream', async () => {
    async function* infinite() {
      for (;;) yield await Promise.resolve(1);
    }
    const ends: unknown[] = [];
    const it = traceAsyncIterable(
      infinite(),
      () => ROOT_CONTEXT,
      (err) => ends.push(err ?? 'ok'),
    )[Symbol.asyncIterator]();
    await it.next();
    await it.return?.();
    await it.return?.();
    expect(ends).toEqual(['ok']);

    // eslint-disable-next-line require-yield
    async function* failing() {
      await Promise.resolve();
      throw new Error('boom');
    }
    const errs: unknown[] = [];
    const it2 = traceAsyncIterable(
      failing(),
      () => ROOT_CONTEXT,
      (err) => errs.push(err),
    )[Symbol.asyncIterator]();
    await expect(it2.next()).rejects.toThrow('boom');
    expect(errs).toHaveLength(1);
  });

  test('spans opened at different times each rotate after their own cap, on one shared timer', () => {
    vi.useFakeTimers();
    try {
      const open = () =>
        createSegmentedSpan({
          tracer,
          name: 'shared.rotation',
          kind: SpanKind.SERVER,
          parent: ROOT_CONTEXT,
          attributes: {},
          maxSegmentMs: 50,
        });
      const a = open();
      const firstA = a.span;
      vi.advanceTimersByTime(20);
      const b = open();
      const firstB = b.span;
      expect(vi.getTimerCount()).toBe(1); // both wait on the same timer
      vi.advanceTimersByTime(30); // a is due, b is not
      expect(a.span).not.toBe(firstA);
      expect(b.span).toBe(firstB);
      vi.advanceTimersByTime(20); // b is due
      expect(b.span).not.toBe(firstB);
      a.end();
      b.end();
    } finally {
      vi.useRealTimers();
    }
  });

  test('an unsampled span schedules no rotation and still takes attributes', () => {
    vi.useFakeTimers();
    try {
      const unsampled = {
        startSpan: () => trace.wrapSpanContext(INVALID_SPAN_CONTEXT),
      } as unknown as Tracer;
      const seg = createSegmentedSpan({
        tracer: unsampled,
        name: 'unsampled',
        kind: SpanKind.SERVER,
        parent: ROOT_CONTEXT,
        attributes: { a: 1 },
        maxSegmentMs: 50,
      });
      expect(vi.getTimerCount()).toBe(0);
      seg.setAttribute('b', 2);
      expect(trace.getSpan(seg.context)).toBe(seg.span);
      seg.end();
      expect(seg.ended).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

test('traceAsyncIterable without a per-step context passes a hookable stream on unwrapped', async () => {
  const src = new HookableSource([1, 2], new Error('boom'));
  const ends: unknown[] = [];
  const traced = traceAsyncIterable(src, null, (e) => ends.push(e));
  expect(traced).toBe(src);
  let err: unknown;
  try {
    for await (const _ of traced) void _;
  } catch (e) {
    err = e;
  }
  expect(ends).toEqual([err]);
  // Not hookable, or a context per step: wrapped, as before.
  const plain = new HookableSource([1]);
  expect(
    traceAsyncIterable(
      plain,
      () => ({}) as never,
      () => undefined,
    ),
  ).not.toBe(plain);
});
