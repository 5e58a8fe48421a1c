import { DEV_AUTH_SECRET } from '@tracewire/server';
import { CLOSE_CODES } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { startChildServer, type ChildServer } from '../helpers/childServer.js';
import { openRawSse } from '../helpers/rawSse.js';
import { openRawSocket, plainClientCloseCode } from '../helpers/rawWs.js';
import { errorsOf, inputQuery, rawTrpc } from '../helpers/trpcHttp.js';
import { createRsaKeys, hsToken, type RsaKeys } from './authTokens.js';

/**
 * Issue 28, authentication and configuration traps, against the real server in its own
 * process (as `npm start` runs it), over real sockets: status codes, close codes, what the
 * server prints at start.
 */

const PEM_ENV = (keys: RsaKeys) => ({
  TRACEWIRE_AUTH_PUBLIC_KEY: keys.publicPem.replace(/\n/g, '\\n'),
});

/** `chat.listThreads` over HTTP with a bearer token: status and appCode. */
async function listThreads(srv: ChildServer, token: string) {
  const res = await rawTrpc(srv.url, 'chat.listThreads', { token, query: inputQuery({}) });
  return { status: res.status, error: errorsOf(res.json)[0] };
}

/** Output lines that look like a JWT (three base64url parts). */
const printedTokens = (output: string) => output.match(/\beyJ[\w-]+\.[\w-]+\.[\w-]*/g) ?? [];

describe('the public dev secret', () => {
  test('beside a public key and with NODE_ENV unset, an HS256 token signed with the dev secret is refused on every transport', async () => {
    const keys = await createRsaKeys();
    await using srv = await startChildServer({
      env: PEM_ENV(keys),
      unset: ['NODE_ENV', 'TRACEWIRE_AUTH_SECRET'],
    });
    const forged = await hsToken({ sub: 'victim' }, DEV_AUTH_SECRET);
    const http = await listThreads(srv, forged);
    expect([http.status, http.error?.data.appCode]).toEqual([401, 'UNAUTHORIZED']);
    expect(await plainClientCloseCode(`${srv.url.replace(/^http/, 'ws')}/trpc`, forged)).toBe(
      CLOSE_CODES.UNAUTHORIZED,
    );
    await using sse = await openRawSse(srv.url, 'agent.events', {
      input: { threadId: 'thr_00000000000000000000000000' },
      urlToken: forged,
    });
    const refused = await sse.waitFor((e) => e.event === 'serialized-error');
    expect(refused.data).toContain('UNAUTHORIZED');
    // The configured key still works, and nothing was printed to sign tokens with.
    expect((await listThreads(srv, await keys.sign({ sub: 'rsa-user' }))).status).toBe(200);
    expect(printedTokens(srv.output())).toEqual([]);
    expect(srv.output()).not.toMatch(/dev secret/i);
  });

  test('with no key of any kind configured, the server says loudly that it uses the dev secret', async () => {
    await using srv = await startChildServer({ unset: ['NODE_ENV', 'TRACEWIRE_AUTH_SECRET'] });
    await srv.waitForLine(/^eyJ/);
    const output = srv.output();
    expect(output).toMatch(/WARNING[\s\S]*PUBLIC built-in dev secret, so ANYONE can sign a token/);
    expect(output).toMatch(
      /"level":40.*INSECURE: tokens are signed and verified with the PUBLIC DEV SECRET/,
    );
    const [demo] = printedTokens(output);
    expect(demo).toBeDefined();
    expect((await listThreads(srv, demo!)).status).toBe(200);
  });
});

describe('production with only a public key', () => {
  test('starts, serves RS256 tokens, refuses HS256 ones and prints no demo token', async () => {
    const keys = await createRsaKeys();
    await using srv = await startChildServer({
      env: { ...PEM_ENV(keys), NODE_ENV: 'production' },
      unset: ['TRACEWIRE_AUTH_SECRET'],
    });
    expect(printedTokens(srv.output())).toEqual([]);
    const rs = await keys.sign({ sub: 'prod-user' });
    const created = await rawTrpc(srv.url, 'chat.createThread', {
      token: rs,
      method: 'POST',
      body: JSON.stringify({ json: { title: 'prod' } }),
    });
    expect(created.status).toBe(200);
    expect((await listThreads(srv, rs)).status).toBe(200);
    await using ws = await openRawSocket(`${srv.url.replace(/^http/, 'ws')}/trpc`, { token: rs });
    ws.send({ id: 1, method: 'query', params: { path: 'chat.listThreads', input: { json: {} } } });
    expect(await ws.waitFor((f) => (f as { id?: number }).id === 1)).toMatchObject({
      result: { type: 'data' },
    });
    for (const secret of [DEV_AUTH_SECRET, 'another-secret-0123456789-0123456789-xyz']) {
      const hs = await hsToken({ sub: 'prod-user' }, secret);
      expect((await listThreads(srv, hs)).status).toBe(401);
    }
  });
});

describe('tokens without exp', () => {
  test('are refused by default on HTTP, SSE and WebSocket', async () => {
    await using srv = await startChildServer();
    const forever = await hsToken({ sub: 'immortal', expiresInSec: null });
    const http = await listThreads(srv, forever);
    expect([http.status, http.error?.message]).toEqual([401, 'token has no exp claim']);
    expect(await plainClientCloseCode(`${srv.url.replace(/^http/, 'ws')}/trpc`, forever)).toBe(
      CLOSE_CODES.UNAUTHORIZED,
    );
    await using sse = await openRawSse(srv.url, 'agent.events', {
      input: { threadId: 'thr_00000000000000000000000000' },
      urlToken: forever,
    });
    expect((await sse.waitFor((e) => e.event === 'serialized-error')).data).toContain(
      'token has no exp claim',
    );
  });

  test('when allowed, their WebSocket and SSE connections close after the maximum lifetime', async () => {
    const lifetimeMs = 1_500;
    await using srv = await startChildServer({
      env: {
        TRACEWIRE_AUTH_ALLOW_NO_EXP: 'true',
        TRACEWIRE_MAX_CONNECTION_LIFETIME_MS: String(lifetimeMs),
      },
    });
    const forever = await hsToken({ sub: 'immortal', expiresInSec: null });
    expect((await listThreads(srv, forever)).status).toBe(200);
    const created = await rawTrpc(srv.url, 'chat.createThread', {
      token: forever,
      method: 'POST',
      body: JSON.stringify({ json: {} }),
    });
    const threadId = (created.json as { result: { data: { json: { id: string } } } }).result.data
      .json.id;

    const opened = Date.now();
    await using ws = await openRawSocket(`${srv.url.replace(/^http/, 'ws')}/trpc`, {
      token: forever,
    });
    ws.send({ id: 1, method: 'query', params: { path: 'chat.listThreads', input: { json: {} } } });
    await ws.waitFor((f) => (f as { id?: number }).id === 1);
    await using sse = await openRawSse(srv.url, 'agent.events', {
      input: { threadId },
      urlToken: forever,
    });
    await sse.waitFor((e) => e.event === 'connected');
    const outcome = await Promise.race([
      Promise.all([ws.closed, sse.ended]),
      new Promise<'still open'>((r) => setTimeout(() => r('still open'), lifetimeMs + 5_000)),
    ]);
    expect(outcome).not.toBe('still open');
    const [closed] = outcome as [{ code: number }, void];
    expect(closed.code).toBe(CLOSE_CODES.TOKEN_EXPIRED);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(lifetimeMs - 100);
    expect(sse.events.some((e) => e.event === 'serialized-error')).toBe(false);
  });
});

describe('tokens in the URL', () => {
  test('are refused for queries and mutations, and accepted for SSE subscriptions', async () => {
    await using srv = await startChildServer();
    const token = await srv.tokenFor('linked');
    const connectionParams = `connectionParams=${encodeURIComponent(JSON.stringify({ token }))}`;
    const mutation = await rawTrpc(srv.url, 'chat.createThread', {
      method: 'POST',
      query: connectionParams,
      body: JSON.stringify({ json: { title: 'from a link' } }),
    });
    expect(mutation.status).toBe(401);
    expect(errorsOf(mutation.json)[0]?.message).toMatch(/only for SSE subscriptions/);
    const query = await rawTrpc(srv.url, 'chat.listThreads', {
      query: `${inputQuery({})}&${connectionParams}`,
    });
    expect(query.status).toBe(401);
    // Nothing was created by the link.
    expect(
      (await rawTrpc(srv.url, 'chat.listThreads', { token, query: inputQuery({}) })).json,
    ).toMatchObject({
      result: { data: { json: { items: [] } } },
    });
    // The header still works; so does a URL token where no header can be sent (EventSource).
    const thread = await rawTrpc(srv.url, 'chat.createThread', {
      token,
      method: 'POST',
      body: JSON.stringify({ json: {} }),
    });
    expect(thread.status).toBe(200);
    const threadId = (thread.json as { result: { data: { json: { id: string } } } }).result.data
      .json.id;
    await using sse = await openRawSse(srv.url, 'agent.events', {
      input: { threadId },
      urlToken: token,
    });
    await sse.waitFor((e) => e.event === 'connected');
    expect(sse.events.some((e) => e.event === 'serialized-error')).toBe(false);
  });
});

describe('TRACEWIRE_SSE_ENABLED=false', () => {
  test('SSE subscriptions are refused with a clear error; WebSocket subscriptions still work', async () => {
    await using srv = await startChildServer({ env: { TRACEWIRE_SSE_ENABLED: 'false' } });
    const token = await srv.tokenFor('ws-only');
    const thread = await rawTrpc(srv.url, 'chat.createThread', {
      token,
      method: 'POST',
      body: JSON.stringify({ json: {} }),
    });
    const threadId = (thread.json as { result: { data: { json: { id: string } } } }).result.data
      .json.id;
    for (const credentials of [{ urlToken: token }, { headerToken: token }]) {
      await using sse = await openRawSse(srv.url, 'agent.events', {
        input: { threadId },
        ...credentials,
      });
      const refused = await sse.waitFor((e) => e.event === 'serialized-error');
      expect(refused.data).toMatch(/subscriptions over SSE are turned off/);
      expect(refused.data).toContain('"appCode":"BAD_REQUEST"');
      expect(sse.events.filter((e) => e.event === null)).toEqual([]);
    }
    await using ws = await openRawSocket(`${srv.url.replace(/^http/, 'ws')}/trpc`, { token });
    ws.send({
      id: 1,
      method: 'subscription',
      params: { path: 'agent.events', input: { json: { threadId } } },
    });
    expect(await ws.waitFor((f) => (f as { id?: number }).id === 1)).toMatchObject({
      result: { type: 'started' },
    });
  });
});
