import { describe, expect, test } from 'vitest';
import { fullJitterMs, retryAfterMs } from './retry.js';

const headers = (h: Record<string, string>) => new Headers(h);

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-08T10:00:00Z');
  test.each([
    [{ 'retry-after': '3' }, 3000],
    [{ 'retry-after': '0.5' }, 500],
    [{ 'retry-after-ms': '250' }, 250],
    [{ 'retry-after-ms': '250', 'retry-after': '9' }, 250],
    [{ 'retry-after': 'Tue, 08 Dec 2026 10:00:07 GMT' }, 7000],
    [{ 'retry-after': 'Tue, 08 Dec 2026 09:59:00 GMT' }, 0],
  ])('reads %j as %d ms', (h, ms) => {
    expect(retryAfterMs(headers(h), now)).toBe(ms);
  });

  test.each([[{}], [{ 'retry-after': 'soon' }], [{ 'retry-after': '-1' }]])('ignores %j', (h) => {
    expect(retryAfterMs(headers(h), now)).toBeUndefined();
  });
});

describe('fullJitterMs', () => {
  test('waits between 0 and the doubled base, capped', () => {
    const opts = { baseMs: 100, maxMs: 1000 };
    expect(fullJitterMs(0, opts, () => 0.999)).toBe(99);
    expect(fullJitterMs(2, opts, () => 0.5)).toBe(200);
    expect(fullJitterMs(10, opts, () => 0.999)).toBe(999);
    expect(fullJitterMs(3, opts, () => 0)).toBe(0);
  });
});
