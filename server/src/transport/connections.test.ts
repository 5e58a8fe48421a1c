import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { WebSocket } from 'ws';
import type { UserId } from '@tracewire/shared';
import { createConnectionRegistry } from './connections.js';

/** The parts of a `ws` socket the registry touches. */
function fakeSocket() {
  const socket = Object.assign(new EventEmitter(), {
    bufferedAmount: 0,
    closed: null as number | null,
    close(code: number) {
      socket.closed = code;
      queueMicrotask(() => socket.emit('close', code));
    },
    terminate() {},
  });
  return socket;
}

describe('connection timers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('a timer longer than setTimeout allows still fires at its time, and closing clears timers', () => {
    vi.useFakeTimers();
    const registry = createConnectionRegistry(pino({ level: 'silent' }));
    const socket = fakeSocket();
    const conn = registry.add(socket as unknown as WebSocket);
    conn.transition('authenticating');
    let fired = 0;
    const thirtyDays = 30 * 24 * 3_600_000;
    conn.setTimer('expiry', thirtyDays, () => fired++);
    let auth = 0;
    conn.setTimer('auth', 1_000, () => auth++);
    conn.clearTimer('auth');
    vi.advanceTimersByTime(thirtyDays - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect([fired, auth]).toEqual([1, 0]);

    conn.setTimer('again', 10, () => fired++);
    conn.close(4002, 'token expired');
    vi.advanceTimersByTime(100);
    expect(fired).toBe(1);
    expect(socket.closed).toBe(4002);
    expect(registry.countLive()).toBe(0);
  });
});

describe('connection counts', () => {
  test('live and per-user counts follow every transition and close', async () => {
    const registry = createConnectionRegistry(pino({ level: 'silent' }));
    const alice = 'usr_alice' as UserId;
    const [a1, a2, b1] = [fakeSocket(), fakeSocket(), fakeSocket()];
    const c1 = registry.add(a1 as unknown as WebSocket);
    const c2 = registry.add(a2 as unknown as WebSocket);
    const c3 = registry.add(b1 as unknown as WebSocket);
    expect(registry.countLive()).toBe(3);
    for (const c of [c1, c2, c3]) c.transition('authenticating');
    c1.assignUser(alice);
    c2.assignUser(alice);
    c3.assignUser('usr_bob' as UserId);
    expect([registry.countForUser(alice), registry.countForUser('usr_bob' as UserId)]).toEqual([
      2, 1,
    ]);
    c1.close(4001, 'bye');
    // Closing already stops counting (before the socket's close event arrives).
    expect([registry.countLive(), registry.countForUser(alice)]).toEqual([2, 1]);
    await new Promise((r) => setTimeout(r, 0));
    expect(registry.stats().open).toBe(2);
    a2.emit('close', 1006);
    expect([registry.countLive(), registry.countForUser(alice)]).toEqual([1, 0]);
    expect(registry.countForUser('usr_nobody' as UserId)).toBe(0);
  });
});
