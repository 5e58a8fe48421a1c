import fc from 'fast-check';
import superjson from 'superjson';
import { describe, expect, test } from 'vitest';
import { freezePlainJson, isPlainJson, plainJsonText, transformer } from './transformer.js';

/** What a peer sees: the serialized form goes over the wire as JSON text. */
const overTheWire = (v: unknown) =>
  transformer.deserialize(JSON.parse(JSON.stringify(transformer.serialize(v))) as never);

const outcome = (fn: () => unknown) => {
  try {
    return { value: fn() };
  } catch (err) {
    return { error: (err as Error).message };
  }
};

describe('wire transformer', () => {
  test('plain JSON takes the fast path and is byte-identical to superjson', () => {
    const event = {
      id: 'e1:42',
      data: { type: 'message_delta', threadId: 'thr_1', seq: 42, delta: 'hi', ok: true, n: null },
    };
    expect(isPlainJson(event)).toBe(true);
    expect(JSON.stringify(transformer.serialize(event))).toBe(
      JSON.stringify(superjson.serialize(event)),
    );
  });

  test('a value frozen as plain JSON is known without a walk and written once, invisibly to JSON, spread and keys', () => {
    const event = freezePlainJson({ type: 'message_delta', seq: 3, delta: 'hé' });
    expect(Object.isFrozen(event)).toBe(true);
    expect(isPlainJson(event)).toBe(true);
    expect(JSON.stringify(event)).toBe('{"type":"message_delta","seq":3,"delta":"hé"}');
    expect(Object.keys(event)).toEqual(['type', 'seq', 'delta']);
    expect(isPlainJson({ ...event })).toBe(true); // by a walk: the copy is not marked
    expect(plainJsonText({ ...event })).toBeUndefined();
    const text = plainJsonText(event);
    expect(text).toBe(JSON.stringify(event));
    expect(plainJsonText(event)).toBe(text); // the same string, not written again
    expect(JSON.stringify(transformer.serialize({ id: '1', data: event }))).toBe(
      JSON.stringify(superjson.serialize({ id: '1', data: event })),
    );
    // Something already frozen cannot carry the mark: it is only frozen (and walked when asked).
    const frozen = freezePlainJson(Object.freeze({ at: new Date(0) }));
    expect(isPlainJson(frozen)).toBe(false);
    expect(plainJsonText(frozen)).toBeUndefined();
  });

  test('values JSON cannot carry go through superjson and revive exactly', () => {
    const at = new Date('2026-11-23T10:00:00Z');
    for (const v of [
      { at },
      { gone: undefined },
      [1, Number.NaN, -0, Number.POSITIVE_INFINITY],
      { big: 10n },
      new Map([['a', 1]]),
      { nested: { deep: [{ at }] } },
    ]) {
      expect(isPlainJson(v)).toBe(false);
      expect(overTheWire(v)).toEqual(v);
    }
  });

  test('any value round-trips as superjson would round-trip it', () => {
    fc.assert(
      fc.property(fc.anything({ withDate: true, withMap: true, withSet: true }), (v) => {
        const viaSuperjson = outcome(() =>
          superjson.deserialize(JSON.parse(JSON.stringify(superjson.serialize(v))) as never),
        );
        // Same value, or the same refusal (superjson refuses `__proto__` keys).
        expect(outcome(() => overTheWire(v))).toEqual(viaSuperjson);
      }),
      { numRuns: 2000 },
    );
  });

  test('deep values stop the walk instead of overflowing the stack', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100; i++) deep = { child: deep };
    expect(isPlainJson(deep)).toBe(false);
    expect(overTheWire(deep)).toEqual(deep);
  });
});
