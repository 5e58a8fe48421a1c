import fc from 'fast-check';
import superjson from 'superjson';
import { describe, expect, test } from 'vitest';
import { AppError } from './errors.js';
import {
  decodeWire,
  freezePlainJson,
  isPlainJson,
  plainJsonText,
  transformer,
} from './transformer.js';

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

/** True when `v` holds, at any depth, an own key with one of `names`. */
function hasKeyNamed(v: unknown, names: readonly string[]): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (v instanceof Map)
    return [...v].some(([k, x]) => hasKeyNamed(k, names) || hasKeyNamed(x, names));
  if (v instanceof Set) return [...v].some((x) => hasKeyNamed(x, names));
  return Object.entries(v).some(([k, x]) => names.includes(k) || hasKeyNamed(x, names));
}

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

  test('plain JSON with `constructor` or `prototype` keys is carried as it is (superjson refuses such objects)', () => {
    // Harmless as plain JSON: parsed JSON has own properties, and nothing walks it to revive
    // anything. Refusing it would fail, e.g., an agent's tool call whose arguments use the word.
    for (const v of [{ prototype: false }, { args: { constructor: 'x' } }]) {
      expect(isPlainJson(v)).toBe(true);
      expect(overTheWire(v)).toEqual(v);
      expect(() => superjson.serialize(v)).toThrow(/prototype pollution/);
    }
  });

  test('any value round-trips as superjson would round-trip it', () => {
    fc.assert(
      fc.property(fc.anything({ withDate: true, withMap: true, withSet: true }), (v) => {
        // The one documented difference: see the test above.
        fc.pre(!hasKeyNamed(v, ['constructor', 'prototype']));
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

/** The refusal `decodeWire` gives, or null when it decodes. */
const refusal = (payload: unknown) => {
  try {
    decodeWire(payload);
    return null;
  } catch (err) {
    expect(AppError.is(err), String(err)).toBe(true);
    expect((err as AppError).code).toBe('BAD_REQUEST');
    return (err as AppError).message;
  }
};

describe('defensive decode of superjson annotations', () => {
  test('a string where a subtree belongs is refused instead of recursing until the stack overflows', () => {
    // The security review's payload: superjson 2.2.6 recursed on "bigint" one character at a time.
    const payload = { json: {}, meta: { values: { x: ['custom', 'bigint'] }, v: 1 } };
    expect(() => superjson.deserialize(structuredClone(payload) as never)).toThrow(
      /Maximum call stack/,
    );
    expect(refusal(payload)).toMatch(/unreadable superjson annotations: path "x" not in the value/);
    const present = {
      json: { x: '2026-01-01T00:00:00.000Z' },
      meta: { values: { x: ['Date', 'bigint'] }, v: 1 },
    };
    expect(() => superjson.deserialize(structuredClone(present) as never)).toThrow(
      /Maximum call stack/,
    );
    expect(refusal(present)).toMatch(/unreadable superjson annotations: malformed node at "x"/);
  });

  test('paths into missing values, forbidden keys, overlapping and over-deep paths are refused', () => {
    const meta = (values: unknown) => ({ values, v: 1 });
    // superjson itself would throw "Cannot read properties of undefined".
    expect(refusal({ json: {}, meta: meta({ 'a.b.c': ['Date'] }) })).toMatch(/not in the value/);
    expect(refusal({ json: { a: 'x' }, meta: meta({ __proto__x: ['Date'] }) })).toMatch(
      /not in the value/,
    );
    expect(refusal({ json: { a: { b: 'x' } }, meta: meta({ 'a.constructor': ['Date'] }) })).toMatch(
      /not in the value|forbidden key/,
    );
    const overlapping = {
      json: { m: [['k', 'x']] },
      meta: meta({ m: ['map'], 'm.0.1': ['Date'] }),
    };
    expect(refusal(overlapping)).toMatch(/overlapping paths/);
    let deep: unknown = '2026-01-01T00:00:00.000Z';
    for (let i = 0; i < 70; i++) deep = { d: deep };
    expect(
      refusal({ json: deep, meta: meta({ [Array(71).fill('d').join('.')]: ['Date'] }) }),
    ).toMatch(/deeper than 64/);
    expect(refusal({ json: { a: 1 }, meta: meta({ 'a\\x': ['Date'] }) })).toMatch(/malformed path/);
  });

  test('annotations that are costly or never legitimate on the wire are refused', () => {
    const meta = (values: unknown) => ({ values, v: 1 });
    expect(refusal({ json: { n: '9'.repeat(1001) }, meta: meta({ n: ['bigint'] }) })).toMatch(
      /bigint must be at most 1000 digits/,
    );
    expect(decodeWire({ json: { n: '9'.repeat(1000) }, meta: meta({ n: ['bigint'] }) })).toEqual({
      n: BigInt('9'.repeat(1000)),
    });
    for (const type of [
      'regexp',
      'symbol',
      ['class', 'X'],
      ['custom', 'y'],
      ['typed-array', 'Nope'],
    ])
      expect(refusal({ json: { v: 'x' }, meta: meta({ v: [type] }) }), String(type)).toMatch(
        /not accepted/,
      );
    expect(refusal({ json: { m: [1, 2] }, meta: meta({ m: ['map'] }) })).toMatch(
      /\[key, value\] pairs/,
    );
    expect(refusal({ json: {}, meta: { v: 0 } })).toMatch(/version 1/);
    expect(refusal({ json: {}, meta: { v: 1, other: 1 } })).toMatch(/unknown meta field/);
    expect(refusal(null)).toMatch(/envelope/);
    expect(refusal('x')).toMatch(/envelope/);
    const many = Object.fromEntries(
      Array.from({ length: 10_001 }, (_, i) => [`k${i}`, ['undefined']]),
    );
    const json = Object.fromEntries(Object.keys(many).map((k) => [k, null]));
    expect(refusal({ json, meta: meta(many) })).toMatch(/more than 10000 annotations/);
  });

  test('references: aliases revive, cycles, the root form and walks through a Map are refused', () => {
    const at = new Date(0);
    const thread = { createdAt: at, updatedAt: at };
    const wire = JSON.parse(JSON.stringify(superjson.serialize(thread))) as {
      meta: { referentialEqualities?: unknown };
    };
    expect(wire.meta.referentialEqualities).toBeDefined();
    const revived = decodeWire<typeof thread>(wire);
    expect(revived).toEqual(thread);
    expect(revived.createdAt).toBe(revived.updatedAt);

    const cyclic = {
      json: { a: { d: null }, b: { c: null } },
      meta: { referentialEqualities: { a: ['b.c'], b: ['a.d'] }, v: 1 },
    };
    expect(refusal(cyclic)).toMatch(/contain itself/);
    expect(refusal({ json: { a: null }, meta: { referentialEqualities: [['a']], v: 1 } })).toMatch(
      /must be an object/,
    );
    const intoMap = {
      json: { m: [['k', { x: 1 }]], o: null },
      meta: { values: { m: ['map'] }, referentialEqualities: { 'm.0.1': ['o'] }, v: 1 },
    };
    expect(refusal(intoMap)).toMatch(/into a Map or Set/);
  });

  test('any annotations at all: a value or a BAD_REQUEST, never a runtime error', () => {
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom('undefined', 'Date', 'bigint', 'map', 'set', 'number', 'Error', 'x'),
        fc.tuple(tie('node'), tie('children')),
        tie('children'),
        fc.anything({ maxDepth: 2 }),
      ),
      children: fc.dictionary(
        fc.oneof(fc.constantFrom('a', 'b', '0', '1', 'a.b', '0.1', 'a\\.b', ''), fc.string()),
        tie('node'),
        { maxKeys: 3 },
      ),
    }));
    const json = fc.anything({ maxDepth: 3, withDate: false });
    const meta = fc.oneof(
      fc.record({ values: tree.node, v: fc.constant(1) }),
      fc.record({
        values: tree.node,
        referentialEqualities: fc.oneof(
          fc.dictionary(fc.string(), fc.array(fc.constantFrom('a', 'b', 'a.b', '0', ''))),
          fc.anything({ maxDepth: 2 }),
        ),
        v: fc.constant(1),
      }),
      fc.anything({ maxDepth: 3 }),
    );
    fc.assert(
      fc.property(json, meta, (j, m) => {
        refusal({ json: j, meta: m });
      }),
      { numRuns: 3000 },
    );
  });
});
