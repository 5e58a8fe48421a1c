import { describe, expect, test } from 'vitest';
import { createBackoff, DEFAULT_BACKOFF, sleep } from './backoff.js';

describe('createBackoff', () => {
  test('stays within [0, min(cap, base·2^attempt)) for every attempt', () => {
    const delay = createBackoff({ baseMs: 100, maxMs: 5_000 });
    for (let attempt = 0; attempt < 40; attempt++) {
      const ceiling = Math.min(5_000, 100 * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const d = delay(attempt);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(ceiling);
      }
    }
  });

  test('uses the full window: the extremes of the random source give 0 and almost the ceiling', () => {
    expect(createBackoff({ baseMs: 100, maxMs: 10_000, random: () => 0 })(3)).toBe(0);
    expect(createBackoff({ baseMs: 100, maxMs: 10_000, random: () => 0.999999 })(3)).toBe(799);
  });

  test('is capped even for huge attempt numbers', () => {
    const delay = createBackoff({ baseMs: 1_000, maxMs: 30_000, random: () => 0.999999 });
    expect(delay(10_000)).toBe(29_999);
  });

  test('spreads the reconnects of many clients instead of bunching them', () => {
    const delay = createBackoff({ baseMs: 1_000, maxMs: 30_000 });
    const delays = Array.from({ length: 1_000 }, () => delay(4));
    const distinct = new Set(delays.map((d) => Math.floor(d / 1_000)));
    // 16 one-second buckets in the window [0, 16 s): full jitter fills nearly all of them.
    expect(distinct.size).toBeGreaterThanOrEqual(14);
  });

  test('defaults to a 500 ms base and a 30 s cap', () => {
    const delay = createBackoff({ random: () => 0.999999 });
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 500, maxMs: 30_000 });
    expect(delay(0)).toBe(499);
    expect(delay(20)).toBe(29_999);
  });
});

describe('sleep', () => {
  test('rejects with the abort reason when the signal aborts first', async () => {
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
  });
});
