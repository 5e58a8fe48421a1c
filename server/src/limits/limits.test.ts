import { describe, expect, test } from 'vitest';
import { loadConfig } from '../config.js';
import {
  createKeyedTokenBuckets,
  createLimits,
  createSlotCounter,
  createTokenBucket,
  limitsFor,
  LIMIT_NAMES,
} from './index.js';

describe('token bucket', () => {
  test('allows a burst, then refuses with the wait until the next token, then refills', () => {
    let now = 0;
    const bucket = createTokenBucket({ perSecond: 2, burst: 3, now: () => now });
    expect([bucket.take(), bucket.take(), bucket.take()].every((r) => r.ok)).toBe(true);
    expect(bucket.take()).toEqual({ ok: false, retryAfterMs: 500 });
    now = 500;
    expect(bucket.take().ok).toBe(true);
    now = 10_000;
    expect([1, 2, 3].map(() => bucket.take().ok)).toEqual([true, true, true]);
    expect(bucket.take().ok).toBe(false);
  });

  test('keyed buckets are independent and full ones are pruned when the map grows', () => {
    let now = 0;
    const buckets = createKeyedTokenBuckets({
      perSecond: 1,
      burst: 1,
      now: () => now,
      pruneAbove: 3,
    });
    expect(buckets.take('a').ok).toBe(true);
    expect(buckets.take('a').ok).toBe(false);
    expect(buckets.take('b').ok).toBe(true);
    expect(buckets.take('c').ok).toBe(true);
    now = 5_000;
    expect(buckets.take('d').ok).toBe(true);
    // a, b and c had refilled: dropped, so memory follows the active keys only.
    expect(buckets.size()).toBe(1);
  });
});

describe('slot counter', () => {
  test('refuses past max and frees a slot once per release', () => {
    const slots = createSlotCounter();
    const r1 = slots.acquire('conn', 2);
    const r2 = slots.acquire('conn', 2);
    expect(slots.acquire('conn', 2)).toBeNull();
    r1?.();
    r1?.();
    expect(slots.count('conn')).toBe(1);
    expect(slots.acquire('conn', 2)).not.toBeNull();
    r2?.();
    expect(slots.size()).toBe(1);
  });
});

describe('limits state', () => {
  test('counts every refusal by name and is separate per server', () => {
    const config = loadConfig({});
    const a = limitsFor({ config });
    const b = limitsFor({ config });
    expect(limitsFor({ config })).not.toBe(a);
    a.hit('mutation_rate');
    expect(a.stats().refusals.mutation_rate).toBe(1);
    expect(b.stats().refusals.mutation_rate).toBe(0);
    expect(Object.keys(createLimits(config.limits).stats().refusals)).toEqual([...LIMIT_NAMES]);
  });
});
