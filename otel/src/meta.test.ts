import { ROOT_CONTEXT, propagation, trace } from '@opentelemetry/api';
import { describe, expect, test } from 'vitest';
import { createTestProvider } from './__tests__/testTracing.js';
import {
  encodeTraceContext,
  extractMeta,
  injectMeta,
  parseCallMeta,
  spanContextFromMeta,
  stripMeta,
  withMeta,
} from './meta.js';

const { provider } = createTestProvider('meta-test');
const tracer = provider.getTracer('t');

describe('_meta carrier', () => {
  test('round-trips a span context with its trace state through injectMeta and extractMeta', () => {
    const span = tracer.startSpan('client');
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    const meta = injectMeta(ctx, 'req-1');
    expect(meta.requestId).toBe('req-1');
    expect(meta.traceparent).toBe(
      `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`,
    );

    const sc = trace.getSpanContext(extractMeta({ ...meta, tracestate: 'vendor=abc' }));
    expect(sc).toMatchObject({
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      isRemote: true,
    });
    expect(sc?.traceState?.get('vendor')).toBe('abc');
    span.end();
  });

  test('sends only the request id when there is no valid span', () => {
    expect(injectMeta(ROOT_CONTEXT, 'r')).toEqual({ requestId: 'r' });
    expect(encodeTraceContext(ROOT_CONTEXT)).toEqual({});
  });

  test('ignores malformed or forbidden carriers instead of failing the call', () => {
    expect(parseCallMeta({ traceparent: 'nope' })).toBeUndefined();
    expect(parseCallMeta('string')).toBeUndefined();
    expect(
      spanContextFromMeta({ traceparent: `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01` }),
    ).toBeUndefined();
    expect(
      spanContextFromMeta({ traceparent: `ff-${'a'.repeat(32)}-${'1'.repeat(16)}-01` }),
    ).toBeUndefined();
    expect(trace.getSpanContext(extractMeta({ traceparent: 'x', requestId: 'r' }))).toBeUndefined();
  });

  test('drops baggage from the base context, whatever the carrier holds', () => {
    const withBaggage = propagation.setBaggage(
      ROOT_CONTEXT,
      propagation.createBaggage({ 'user.id': { value: 'evil' } }),
    );
    const meta = {
      traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
      baggage: 'user.id=evil',
    };
    const ctx = extractMeta(meta, withBaggage);
    expect(propagation.getBaggage(ctx)).toBeUndefined();
    expect(trace.getSpanContext(ctx)?.traceId).toBe('a'.repeat(32));
  });

  test('strips _meta from plain-object inputs only and leaves other values untouched', () => {
    const input = { a: 1, _meta: { requestId: 'r' } };
    expect(stripMeta(input)).toEqual({ a: 1 });
    expect(input._meta).toBeDefined();
    const date = new Date(0);
    expect(stripMeta(date)).toBe(date);
    expect(stripMeta('x')).toBe('x');
    expect(stripMeta(undefined)).toBeUndefined();
    expect(withMeta({ a: 1 }, { requestId: 'r' })).toEqual({ a: 1, _meta: { requestId: 'r' } });
    expect(withMeta(undefined, { requestId: 'r' })).toBeUndefined();
    expect(withMeta([1], { requestId: 'r' })).toEqual([1]);
  });
});
