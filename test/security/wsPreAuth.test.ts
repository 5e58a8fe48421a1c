import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLOSE_CODES } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { startChildServer, type ChildServer } from '../helpers/childServer.js';
import { openRawSocket } from '../helpers/rawWs.js';

/**
 * Issue 28, items 3, 4 and 13, measured from outside: a server in its own process, raw
 * sockets that never authenticate, the server's RSS and the close codes clients see.
 */

const MB = 1024 * 1024;
const wsUrlOf = (srv: ChildServer) => `${srv.url.replace(/^http/, 'ws')}/trpc`;

/** Samples the server's RSS every 25 ms while `work` runs; resolves with the peak. */
async function peakRss<T>(srv: ChildServer, work: () => Promise<T>): Promise<[number, T]> {
  let peak = srv.rssBytes();
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, srv.rssBytes());
    } catch {
      // the process ended: the test fails on its own
    }
  }, 25);
  try {
    const result = await work();
    peak = Math.max(peak, srv.rssBytes());
    return [peak, result];
  } finally {
    clearInterval(timer);
  }
}

/**
 * Opens a socket with the given query and sends text frames of `frameBytes` (not JSON) as
 * fast as the server reads them, up to `frames` of them or `forMs`, never holding more than
 * a few MB unsent on this side. Resolves with how the socket ended (or did not).
 */
async function floodUnauthenticated(
  url: string,
  opts: { frames: number; frameBytes: number; forMs: number; first?: string },
): Promise<{ code: number | null; sent: number }> {
  const ws = new WebSocket(url);
  ws.on('error', () => undefined);
  let code: number | null = null;
  ws.once('close', (c) => (code = c));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', () => reject(new Error('upgrade refused')));
  });
  if (opts.first !== undefined) ws.send(opts.first);
  // Valid JSON (a query with a long string input), so a server that queues it holds it parsed.
  const head = '{"id":1,"method":"query","params":{"path":"chat.listThreads","input":{"json":"';
  const tail = '"}}}';
  const frame = Buffer.alloc(opts.frameBytes, 0x61);
  frame.write(head, 0);
  frame.write(tail, opts.frameBytes - tail.length);
  const until = Date.now() + opts.forMs;
  let sent = 0;
  while (sent < opts.frames && Date.now() < until && ws.readyState === ws.OPEN) {
    if (ws.bufferedAmount < 4 * MB) {
      ws.send(frame, { binary: false });
      sent++;
    } else {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  // Give the server the time it takes to read what was sent, or to close (a client with
  // unsent data learns of the close when the server cuts the socket, after its handshake
  // deadline of 3 s).
  const deadline = Date.now() + 5_000;
  while (code === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  ws.terminate();
  return { code, sent };
}

/** A real user's socket: connectionParams, one answered query. Resolves true when served. */
async function servedUser(
  srv: ChildServer,
  user: string,
): Promise<{ served: boolean; code?: number }> {
  const raw = await openRawSocket(wsUrlOf(srv), { token: await srv.tokenFor(user) });
  try {
    raw.send({
      id: 1,
      method: 'query',
      params: { path: 'chat.listThreads', input: { json: {} } },
    });
    const outcome = await Promise.race([
      raw.waitFor((f) => (f as { id?: number }).id === 1, 5_000).then(() => 'served' as const),
      raw.closed,
    ]);
    if (outcome === 'served') return { served: true };
    return { served: false, code: outcome.code };
  } finally {
    await raw[Symbol.asyncDispose]();
  }
}

describe('sockets that have not authenticated', () => {
  test('cannot make the server hold megabytes: ?connectionParams=%31 is read as tRPC reads it, and frames before the credentials are refused', async () => {
    await using srv = await startChildServer();
    const before = srv.rssBytes();
    // Three sockets, each offering 150 frames of 1 MB before any credentials.
    const [peak, results] = await peakRss(srv, () =>
      Promise.all(
        ['%31', '1', '%31'].map((v) =>
          floodUnauthenticated(`${wsUrlOf(srv)}?connectionParams=${v}`, {
            frames: 150,
            frameBytes: 1_000_000,
            forMs: 4_000,
          }),
        ),
      ),
    );
    const grewMb = (peak - before) / MB;
    console.log(
      `pre-auth flood: RSS ${(before / MB).toFixed(0)} MB -> peak ${(peak / MB).toFixed(0)} MB; ` +
        `sent ${results.map((r) => r.sent).join('/')} frames; closed ${results.map((r) => r.code).join('/')}`,
    );
    // Each socket is closed as its first frame passes the pre-auth limit (1009), before it
    // could hold more than that.
    for (const r of results) expect(r.code).toBe(CLOSE_CODES.MESSAGE_TOO_BIG);
    expect(grewMb).toBeLessThan(24);
    // The server still serves real users.
    expect(await servedUser(srv, 'alice')).toEqual({ served: true });
  }, 30_000);

  test('a socket whose credentials are still being checked cannot buffer frames meanwhile', async () => {
    // A JWK Set URL that never answers: the check of an RS256 token waits for its timeout.
    const silent = createServer(() => undefined);
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const jwksUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/jwks.json`;
    try {
      await using srv = await startChildServer({ env: { TRACEWIRE_AUTH_JWKS_URL: jwksUrl } });
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const token = `${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ sub: 'mallory' })}.c2ln`;
      const first = JSON.stringify({ method: 'connectionParams', data: { token } });
      const before = srv.rssBytes();
      const [peak, results] = await peakRss(srv, () =>
        Promise.all(
          [1, 2].map(() =>
            floodUnauthenticated(`${wsUrlOf(srv)}?connectionParams=1`, {
              frames: 150,
              frameBytes: 1_000_000,
              forMs: 3_000,
              first,
            }),
          ),
        ),
      );
      const grewMb = (peak - before) / MB;
      console.log(
        `flood while checking credentials: RSS ${(before / MB).toFixed(0)} MB -> peak ` +
          `${(peak / MB).toFixed(0)} MB; sent ${results.map((r) => r.sent).join('/')} frames`,
      );
      expect(grewMb).toBeLessThan(24);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  }, 30_000);

  test('a first frame that is not connectionParams is refused with PROTOCOL_ERROR (4011), however the query spells it', async () => {
    await using srv = await startChildServer();
    for (const v of ['%31', '1']) {
      await using raw = await openRawSocket(`${wsUrlOf(srv)}?connectionParams=${v}`);
      raw.send({
        id: 1,
        method: 'query',
        params: { path: 'chat.listThreads', input: { json: {} } },
      });
      expect((await raw.closed).code).toBe(CLOSE_CODES.PROTOCOL_ERROR);
      expect(raw.frames).toEqual([]);
    }
  });

  test('cannot crowd out real users: 40 silent sockets do not make a user get 4009 at TRACEWIRE_MAX_CONNECTIONS=40, and they are closed 4004 well within 10 s', async () => {
    await using srv = await startChildServer({ env: { TRACEWIRE_MAX_CONNECTIONS: '40' } });
    const silent = await Promise.all(
      Array.from({ length: 40 }, () =>
        openRawSocket(wsUrlOf(srv), { announceParams: true }).catch((err: unknown) => err),
      ),
    );
    const opened = silent.filter(
      (s): s is Awaited<ReturnType<typeof openRawSocket>> => !(s instanceof Error),
    );
    const openedAt = Date.now();
    try {
      expect(await servedUser(srv, 'alice')).toEqual({ served: true });
      expect(await servedUser(srv, 'bob')).toEqual({ served: true });
      const closes = await Promise.all(opened.map((s) => s.closed));
      const elapsed = Date.now() - openedAt;
      const codes = new Set(closes.map((c) => c.code));
      console.log(
        `silent sockets: ${opened.length} opened, closed with ${[...codes].join(',')} after ${elapsed} ms`,
      );
      // Each silent socket ends with AUTH_TIMEOUT (or, when the unauthenticated budget is
      // full, TOO_MANY_CONNECTIONS as the oldest one is let go to admit a newer one).
      for (const c of closes)
        expect([CLOSE_CODES.AUTH_TIMEOUT, CLOSE_CODES.TOO_MANY_CONNECTIONS]).toContain(c.code);
      expect(elapsed).toBeLessThan(8_000);
    } finally {
      for (const s of opened) await s[Symbol.asyncDispose]();
    }
  }, 30_000);

  test('TRACEWIRE_WS_MAX_UNAUTHENTICATED: past the budget the socket waiting longest is let go (4009), and a user still logs in', async () => {
    await using srv = await startChildServer({ env: { TRACEWIRE_WS_MAX_UNAUTHENTICATED: '3' } });
    const silent = [];
    for (let i = 0; i < 5; i++)
      silent.push(await openRawSocket(wsUrlOf(srv), { announceParams: true }));
    try {
      // The two that waited longest were closed to make room for the newer ones.
      expect(await silent[0]!.closed).toMatchObject({ code: CLOSE_CODES.TOO_MANY_CONNECTIONS });
      expect(await silent[1]!.closed).toMatchObject({ code: CLOSE_CODES.TOO_MANY_CONNECTIONS });
      expect(silent[4]!.ws.readyState).toBe(silent[4]!.ws.OPEN);
      expect(await servedUser(srv, 'alice')).toEqual({ served: true });
    } finally {
      for (const s of silent) await s[Symbol.asyncDispose]();
    }
  });

  test('TRACEWIRE_WS_PREAUTH_MAX_BYTES bounds the connectionParams frame: 1009 past it, served below it', async () => {
    await using srv = await startChildServer({ env: { TRACEWIRE_WS_PREAUTH_MAX_BYTES: '2048' } });
    const token = await srv.tokenFor('alice');
    const frame = (pad: number) =>
      JSON.stringify({ method: 'connectionParams', data: { token, pad: 'p'.repeat(pad) } });
    await using big = await openRawSocket(wsUrlOf(srv), { announceParams: true });
    big.send(frame(4_000));
    expect((await big.closed).code).toBe(CLOSE_CODES.MESSAGE_TOO_BIG);
    await using small = await openRawSocket(wsUrlOf(srv), { announceParams: true });
    small.send(frame(100));
    small.send({
      id: 1,
      method: 'query',
      params: { path: 'chat.listThreads', input: { json: {} } },
    });
    expect(await small.waitFor((f) => (f as { id?: number }).id === 1)).toMatchObject({
      result: { type: 'data' },
    });
  });

  test('a refused login is one warn line with the close code and a request id, no stack', async () => {
    await using srv = await startChildServer();
    await using raw = await openRawSocket(wsUrlOf(srv), { token: 'not-a-token' });
    expect((await raw.closed).code).toBe(CLOSE_CODES.UNAUTHORIZED);
    const line = await srv.waitForLine(/"close_code":4001/, 5_000);
    const entry = JSON.parse(line) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 40, close_code: 4001 });
    expect(entry['request_id']).toMatch(/\S/);
    expect(line).not.toMatch(/"stack"/);
    // Nothing else about it at error level.
    const errors = srv
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{') && (JSON.parse(l) as { level?: number }).level! >= 50);
    expect(errors).toEqual([]);
  });
});
