import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { createAvailability, describeUnavailable } from './availability.js';
import type { ConnectionUnavailableError } from './errors.js';

describe('createAvailability', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const track = (timeoutMs = 1_000) => {
    const failed: ConnectionUnavailableError[] = [];
    const statuses: string[] = [];
    const a = createAvailability({
      url: 'ws://127.0.0.1:9/trpc',
      timeoutMs,
      onChange: (s) => statuses.push(s.status),
      onUnavailable: (e) => failed.push(e),
    });
    return { a, failed, statuses };
  };

  test('a socket that never opens makes the client unavailable after the timeout, once', async () => {
    const { a, failed, statuses } = track();
    expect(a.state).toMatchObject({ status: 'connecting', everConnected: false });
    // Reconnect attempts in between do not restart the deadline.
    await vi.advanceTimersByTimeAsync(600);
    a.connecting({ error: new Error('WebSocket closed'), closeCode: 1006 });
    await vi.advanceTimersByTimeAsync(399);
    expect(failed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.appCode).toBe('UNAVAILABLE');
    expect(failed[0]!.url).toBe('ws://127.0.0.1:9/trpc');
    expect(failed[0]!.message).toMatch(
      /ws:\/\/127\.0\.0\.1:9\/trpc.*never connected.*not running.*URL is wrong.*Origin/,
    );
    expect(a.unavailable).toBe(true);
    expect(a.state).toMatchObject({ status: 'unavailable', lastCloseCode: 1006 });
    // Still reconnecting: further failed attempts keep the status, nothing more is failed.
    a.connecting({ error: new Error('again'), closeCode: 1006 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(failed).toHaveLength(1);
    expect(statuses).toEqual(['connecting', 'unavailable']);
  });

  test('an open socket ends the deadline and the unavailable state; losing it starts a new one', async () => {
    const { a, failed, statuses } = track();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.unavailable).toBe(true);
    a.opened();
    expect(a.state).toMatchObject({ status: 'connected', everConnected: true, error: null });
    a.connecting({ error: new Error('lost'), closeCode: 1001 });
    expect(a.state.status).toBe('connecting');
    await vi.advanceTimersByTimeAsync(500);
    a.opened();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(failed).toHaveLength(1);
    a.connecting({ closeCode: 1006 });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(failed).toHaveLength(2);
    expect(failed[1]!.message).toMatch(/has been down for 1000 ms.*keeps reconnecting/);
    expect(statuses).toEqual([
      'unavailable',
      'connected',
      'connecting',
      'connected',
      'connecting',
      'unavailable',
    ]);
  });

  test('refused and closed stop the deadline', async () => {
    const { a, failed } = track();
    a.refused(new Error('4001'));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(a.state.status).toBe('refused');
    a.connecting();
    expect(a.state.status).toBe('connecting');
    a.closed();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(failed).toEqual([]);
    expect(a.state.status).toBe('closed');
    a.opened();
    expect(a.state.status).toBe('closed');
  });

  test("names the page's origin when there is one", () => {
    vi.stubGlobal('location', { origin: 'https://app.example' });
    try {
      expect(
        describeUnavailable({ url: 'wss://x/trpc', timeoutMs: 10, everConnected: false }),
      ).toContain(
        'this page’s origin (https://app.example) is not in the server’s TRACEWIRE_ALLOWED_ORIGINS',
      );
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
