import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createResponseBudget, jsonByteLength } from './responseBudget.js';

describe('jsonByteLength', () => {
  test('is the UTF-8 length of JSON.stringify for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(jsonByteLength(v)).toBe(Buffer.byteLength(JSON.stringify(v), 'utf8'));
      }),
      { numRuns: 3000 },
    );
    for (const s of ['"quoted" \\ back', 'tab\tnew\nline\r', '\u0001\u001f', 'é ✓ 𝄞'])
      expect(jsonByteLength({ s })).toBe(Buffer.byteLength(JSON.stringify({ s }), 'utf8'));
  });

  test('counts a Date as its ISO string and stops early once past the limit', () => {
    expect(jsonByteLength({ at: new Date(0) })).toBe(JSON.stringify({ at: new Date(0) }).length);
    const page = { items: Array.from({ length: 100 }, () => ({ content: 'x'.repeat(30_000) })) };
    const full = jsonByteLength(page);
    expect(full).toBe(JSON.stringify(page).length);
    const partial = jsonByteLength(page, 100_000);
    expect(partial).toBeGreaterThan(100_000);
    expect(partial).toBeLessThan(140_000);
  });
});

describe('createResponseBudget', () => {
  test('answers while the total fits, always the first answer, then refuses the rest', () => {
    const budget = createResponseBudget(100);
    expect(budget.charge(150)).toBe(true); // alone it is always answered
    expect(budget.charge(1)).toBe(false);
    expect(budget.exhausted).toBe(true);
    expect(budget.charge(1)).toBe(false);
    expect(budget.charge(10, { force: true })).toBe(true); // a mutation that ran
    expect(budget.usedBytes).toBe(160);

    const roomy = createResponseBudget(100);
    expect([roomy.charge(40), roomy.charge(40), roomy.charge(40), roomy.charge(1)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  test('runs the calls of a request one at a time, in the order they entered', async () => {
    const budget = createResponseBudget(100);
    const order: string[] = [];
    let running = 0;
    const call = (name: string, ms: number) =>
      budget.inTurn(async () => {
        running++;
        expect(running).toBe(1);
        order.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        order.push(`end ${name}`);
        running--;
        if (name === 'b') throw new Error('b failed');
        return name;
      });
    const results = await Promise.allSettled([call('a', 20), call('b', 1), call('c', 1)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(order).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });
});
