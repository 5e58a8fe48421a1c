import { describe, expect, test } from 'vitest';
import { countsAsFailure, createCircuitBreakerRegistry } from './circuitBreaker.js';

describe('circuit breaker', () => {
  const setup = () => {
    let now = 0;
    const registry = createCircuitBreakerRegistry({
      failureThreshold: 3,
      cooldownMs: 1_000,
      now: () => now,
    });
    return { registry, breaker: registry.forTool('search'), advance: (ms: number) => (now += ms) };
  };

  test('opens after N consecutive failures; a success in between resets the count', () => {
    const { breaker } = setup();
    breaker.record('failure');
    breaker.record('failure');
    breaker.record('success');
    breaker.record('failure');
    breaker.record('failure');
    expect(breaker.state).toBe('closed');
    expect(breaker.record('failure')).toBe('opened');
    expect(breaker.state).toBe('open');
    expect(breaker.admit()).toEqual({ ok: false, retryAfterMs: 1_000, failures: 3 });
  });

  test('half-opens after the cool-down with a single probe; its success closes, its failure re-opens', () => {
    const { breaker, advance, registry } = setup();
    for (let i = 0; i < 3; i++) breaker.record('failure');
    advance(1_000);
    expect(breaker.admit()).toEqual({ ok: true });
    expect(breaker.state).toBe('half_open');
    expect(breaker.admit().ok).toBe(false);
    expect(breaker.record('failure')).toBe('reopened');
    expect(breaker.admit().ok).toBe(false);
    advance(1_000);
    expect(breaker.admit().ok).toBe(true);
    expect(breaker.record('success')).toBe('closed');
    expect(breaker.admit().ok).toBe(true);
    expect(registry.stats()['search']).toEqual({
      state: 'closed',
      consecutiveFailures: 0,
      opens: 2,
      rejected: 2,
    });
  });

  test('a neutral probe (run cancelled) frees the probe slot without deciding', () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 3; i++) breaker.record('failure');
    advance(1_000);
    expect(breaker.admit().ok).toBe(true);
    expect(breaker.record('neutral')).toBeNull();
    expect(breaker.state).toBe('half_open');
    expect(breaker.admit().ok).toBe(true);
  });

  test('breakers are per tool, and threshold 0 never opens', () => {
    const { registry } = setup();
    for (let i = 0; i < 3; i++) registry.forTool('a').record('failure');
    expect(registry.forTool('a').state).toBe('open');
    expect(registry.forTool('b').admit().ok).toBe(true);
    const off = createCircuitBreakerRegistry({ failureThreshold: 0 }).forTool('x');
    for (let i = 0; i < 10; i++) off.record('failure');
    expect(off.admit().ok).toBe(true);
  });

  test('only health failures count: bad input and stops from outside do not', () => {
    expect(['TIMEOUT', 'UNAVAILABLE', 'INTERNAL', 'TOO_MANY_REQUESTS'].every(countsAsFailure)).toBe(
      true,
    );
    expect(
      ['BAD_REQUEST', 'NOT_FOUND', 'CANCELLED', 'SHUTDOWN', 'CIRCUIT_OPEN'].some(countsAsFailure),
    ).toBe(false);
  });
});
