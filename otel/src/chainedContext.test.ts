import {
  ROOT_CONTEXT,
  context,
  createContextKey,
  propagation,
  trace,
  type Context,
} from '@opentelemetry/api';
import { afterAll, describe, expect, test } from 'vitest';
import { createTestProvider, useGlobalTracing } from './__tests__/testTracing.js';
import { ChainedContext } from './chainedContext.js';

const t = createTestProvider('chained-context-test');
const globals = useGlobalTracing();
afterAll(() => globals[Symbol.dispose]());

const A = createContextKey('test a');
const B = createContextKey('test b');

describe('ChainedContext', () => {
  test('reads, overrides and deletes exactly as the API context does', () => {
    const base = ROOT_CONTEXT.setValue(A, 'root-a');
    const ops = (c: Context) => {
      const one = c.setValue(B, 1);
      const two = one.setValue(B, 2).deleteValue(A);
      const back = two.setValue(A, 'again');
      return [one, two, back].map((x) => [x.getValue(A), x.getValue(B)]);
    };
    const chained = ChainedContext.from(base);
    expect(chained.getValue(A)).toBe('root-a');
    expect(ops(chained)).toEqual(ops(base));
    expect(ops(chained)).toEqual([
      ['root-a', 1],
      [undefined, 2],
      ['again', 2],
    ]);
    // Every derived context is chained; the original is unchanged.
    expect(chained.setValue(B, 3)).toBeInstanceOf(ChainedContext);
    expect(ChainedContext.from(chained)).toBe(chained);
    expect(chained.getValue(B)).toBeUndefined();
    expect(base.getValue(B)).toBeUndefined();
  });

  test('carries spans and baggage through the API and the SDK', () => {
    const baggage = propagation.createBaggage({ k: { value: 'v' } });
    const chained = ChainedContext.from(propagation.setBaggage(ROOT_CONTEXT, baggage));
    expect(propagation.getBaggage(chained)?.getEntry('k')?.value).toBe('v');
    const clean = propagation.deleteBaggage(chained);
    expect(propagation.getBaggage(clean)).toBeUndefined();

    const tracer = t.provider.getTracer('t');
    const parent = tracer.startSpan('parent', {}, clean);
    const withParent = trace.setSpan(clean, parent);
    expect(withParent).toBeInstanceOf(ChainedContext);
    context.with(withParent, () => {
      tracer.startActiveSpan('child', (child) => {
        expect(context.active()).toBeInstanceOf(ChainedContext);
        expect(trace.getActiveSpan()).toBe(child);
        child.end();
      });
    });
    parent.end();
    const [child] = t.byName('child');
    expect(child?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
  });
});
