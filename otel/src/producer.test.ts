import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import { afterAll, describe, expect, test } from 'vitest';
import { createTestProvider, isChildOf, useGlobalTracing } from './__tests__/testTracing.js';
import { spanContextFromMeta } from './meta.js';
import { startProducerSpan, withEventProducer } from './producer.js';

const t = createTestProvider('producer-test');
const globals = useGlobalTracing(t.provider);
afterAll(() => globals[Symbol.dispose]());

const event = { threadId: 'thr_1', runId: 'run_1', seq: 7, type: 'message_delta', delta: 'hi' };

describe('producer spans', () => {
  test('writes the PRODUCER span context into the event _meta, under the active span', async () => {
    const tracer = t.provider.getTracer('t');
    const published: Array<typeof event & { _meta?: unknown }> = [];
    await tracer.startActiveSpan('invoke_agent demo', async (agent) => {
      await withEventProducer(event, (e) => void published.push(e));
      agent.end();
    });
    const send = t.one('send agent.events');
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.attributes).toMatchObject({
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'thr_1',
      'messaging.message.id': '7',
      'tracewire.event.type': 'message_delta',
    });
    expect(isChildOf(send, t.one('invoke_agent demo'))).toBe(true);
    const sc = spanContextFromMeta(published[0]?._meta as never);
    expect(sc?.spanId).toBe(send.spanContext().spanId);
    expect(event).not.toHaveProperty('_meta'); // the caller's object is not mutated
  });

  test('records a failed publish and still ends the span', async () => {
    await expect(
      withEventProducer({ threadId: 'thr_2' }, () => {
        throw new Error('log full');
      }),
    ).rejects.toThrow('log full');
    const send = t
      .byName('send agent.events')
      .find((s) => s.attributes['messaging.destination.name'] === 'thr_2');
    expect(send?.status.code).toBe(SpanStatusCode.ERROR);
  });

  test('leaves the event without _meta when there is no valid trace context', () => {
    trace.disable();
    const { span, event: out } = startProducerSpan(event, { parent: ROOT_CONTEXT });
    span.end();
    expect(out).not.toHaveProperty('_meta');
    trace.setGlobalTracerProvider(t.provider);
  });

  describe('with a span budget', () => {
    /** A budget that grants `n` spans, then refuses; counts every question. */
    const budgetOf = (n: number) => {
      const b = { asked: 0, take: () => ++b.asked <= n };
      return b;
    };

    test('over the budget: no span, and the event carries its parent span context instead', () => {
      const tracer = t.provider.getTracer('t');
      const budget = budgetOf(1);
      const out: Array<{ seq: number; _meta?: unknown }> = [];
      tracer.startActiveSpan('invoke_agent budget', (agent) => {
        for (const seq of [1, 2, 3]) {
          const { span, event: e } = startProducerSpan({ threadId: 'thr_b', seq }, { budget });
          span.end();
          out.push(e);
        }
        agent.end();
      });
      const agent = t.one('invoke_agent budget');
      const sends = t
        .byName('send agent.events')
        .filter((s) => s.attributes['messaging.destination.name'] === 'thr_b');
      expect(sends.map((s) => s.attributes['messaging.message.id'])).toEqual(['1']);
      expect(budget.asked).toBe(3);
      const linked = out.map((e) => spanContextFromMeta(e._meta as never)?.spanId);
      expect(linked).toEqual([
        sends[0]!.spanContext().spanId,
        agent.spanContext().spanId,
        agent.spanContext().spanId,
      ]);
      expect(
        out.every(
          (e) => spanContextFromMeta(e._meta as never)?.traceId === agent.spanContext().traceId,
        ),
      ).toBe(true);
    });

    test('an unsampled parent does not spend the budget', () => {
      const budget = budgetOf(0);
      const unsampled = trace.setSpanContext(ROOT_CONTEXT, {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceFlags: TraceFlags.NONE,
      });
      const { span, event: e } = startProducerSpan(event, { budget, parent: unsampled });
      span.end();
      expect(budget.asked).toBe(0);
      expect(span.isRecording()).toBe(false);
      expect(e).not.toHaveProperty('_meta');
    });
  });
});
