import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { WebSocket } from 'ws';
import type { UserId } from '@tracewire/shared';
import { createConnectionRegistry } from './connections.js';

/**
 * The parts of a `ws` socket the registry touches. The deadlines below span days, so these
 * tests run on fake time; real sockets go through the same paths in test/security/auth.test.ts
 * (auth timeout, token expiry) and test/delivery/heartbeat.test.ts (keepalive).
 */
function fakeSocket() {
  const socket = Object.assign(new EventEmitter(), {
    bufferedAmount: 0,
    closed: null as number | null,
    terminated: 0,
    sent: [] as string[],
    /** A peer that is gone never answers the close handshake. */
    answersClose: true,
    send(data: string) {
      socket.sent.push(data);
    },
    close(code: number) {
      socket.closed = code;
      if (socket.answersClose) queueMicrotask(() => socket.emit('close', code));
    },
    terminate() {
      socket.terminated++;
      queueMicrotask(() => socket.emit('close', 1006));
    },
  });
  return socket;
}

/** The registry's clock is an interval reading `performance.now()`. */
const FAKE: Parameters<typeof vi.useFakeTimers>[0] = {
  toFake: ['setInterval', 'clearInterval', 'Date', 'performance'],
};

describe('connection deadlines (one clock for all connections)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('the auth deadline fires once, only while authenticating; a closing peer is cut after 3 s', async () => {
    vi.useFakeTimers(FAKE);
    const timedOut: string[] = [];
    const registry = createConnectionRegistry(pino({ level: 'silent' }), {
      onAuthTimeout: (c) => timedOut.push(c.id),
      tickMs: 100,
    });
    const [s1, s2] = [fakeSocket(), fakeSocket()];
    const late = registry.add(s1 as unknown as WebSocket);
    const admitted = registry.add(s2 as unknown as WebSocket);
    expect(late.id).toMatch(/^[0-9a-f-]{36}$/);
    for (const c of [late, admitted]) {
      c.transition('authenticating');
      c.awaitAuth(1_000);
    }
    admitted.authReceived();
    s1.answersClose = false;
    vi.advanceTimersByTime(900);
    expect(timedOut).toEqual([]);
    vi.advanceTimersByTime(200);
    expect(timedOut).toEqual([late.id]);
    vi.advanceTimersByTime(5_000);
    expect(timedOut).toEqual([late.id]);

    late.close(4004, 'no connectionParams in time');
    expect(s1.closed).toBe(4004);
    vi.advanceTimersByTime(2_900);
    expect(s1.terminated).toBe(0);
    vi.advanceTimersByTime(200);
    expect(s1.terminated).toBe(1);
    await Promise.resolve();
    expect(registry.stats().open).toBe(1);
    admitted.close(1000, 'bye');
    await Promise.resolve();
    // No connections left: the clock stopped.
    expect([registry.stats().open, vi.getTimerCount()]).toEqual([0, 0]);
  });

  test('an expiry 30 days away (past setTimeout range) fires at its time', () => {
    vi.useFakeTimers(FAKE);
    const hour = 3_600_000;
    let expired = 0;
    const registry = createConnectionRegistry(pino({ level: 'silent' }), {
      onExpired: () => expired++,
      tickMs: hour,
    });
    const conn = registry.add(fakeSocket() as unknown as WebSocket);
    conn.transition('authenticating');
    conn.transition('active');
    conn.expireAt(Date.now() + 30 * 24 * hour);
    vi.advanceTimersByTime(30 * 24 * hour - hour);
    expect(expired).toBe(0);
    vi.advanceTimersByTime(hour);
    vi.advanceTimersByTime(5 * hour);
    expect(expired).toBe(1);
  });

  test('keepalive: PING after pingMs of quiet, reset by any frame, terminate when nothing comes back', () => {
    vi.useFakeTimers(FAKE);
    const registry = createConnectionRegistry(pino({ level: 'silent' }), {
      keepAlive: { pingMs: 1_000, pongWaitMs: 500 },
    });
    const socket = fakeSocket();
    const conn = registry.add(socket as unknown as WebSocket);
    conn.transition('authenticating');
    conn.transition('active');
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(600);
      conn.heard();
    }
    expect(socket.sent).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(socket.sent).toEqual(['PING']);
    vi.advanceTimersByTime(300);
    conn.heard(); // the PONG
    vi.advanceTimersByTime(900);
    expect([socket.sent.length, socket.terminated]).toEqual([1, 0]);
    vi.advanceTimersByTime(200);
    expect(socket.sent).toEqual(['PING', 'PING']);
    vi.advanceTimersByTime(500);
    expect(socket.terminated).toBe(1);
  });
});

describe('connection clock failures', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('a socket that throws on PING is logged and the other connections are still served', () => {
    vi.useFakeTimers(FAKE);
    const logged: unknown[] = [];
    const logger = pino(
      { level: 'error' },
      { write: (line: string) => logged.push(JSON.parse(line)) },
    );
    const registry = createConnectionRegistry(logger, {
      keepAlive: { pingMs: 1_000, pongWaitMs: 500 },
    });
    const broken = fakeSocket();
    broken.send = () => {
      throw new Error('socket gone');
    };
    const healthy = fakeSocket();
    for (const s of [broken, healthy]) {
      const c = registry.add(s as unknown as WebSocket);
      c.transition('authenticating');
      c.transition('active');
    }
    vi.advanceTimersByTime(1_250);
    expect(healthy.sent).toEqual(['PING']);
    expect(logged).toMatchObject([
      { msg: 'connection deadline check failed', err: { message: 'socket gone' } },
    ]);
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
