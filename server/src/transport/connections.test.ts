import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { WebSocket } from 'ws';
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
