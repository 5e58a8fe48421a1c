import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@tracewire/server';
import { CLOSE_CODES, createClientMessageId, isTerminalEvent } from '@tracewire/shared';
import { createTracewireClient, type ThreadEvent } from '@tracewire/client';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { createPlainClient } from '../helpers/plainClient.js';
import { openRawSocket, plainClientCloseCode } from '../helpers/rawWs.js';
import { startTestServer } from '../helpers/server.js';
import { createRsaKeys, hsToken, startJwksServer } from './authTokens.js';

const ISS = 'tracewire-test';
const AUD = 'tracewire-api';

async function httpError(
  url: string,
  token: string | undefined,
): Promise<TRPCClientError<AppRouter>> {
  await using client = createPlainClient({
    url,
    transport: 'http+sse',
    ...(token ? { token } : {}),
  });
  try {
    await client.trpc.chat.listThreads.query({});
  } catch (err) {
    expect(err).toBeInstanceOf(TRPCClientError);
    return err as TRPCClientError<AppRouter>;
  }
  throw new Error('expected the call to be refused');
}

async function sseError(url: string, token: string | undefined): Promise<unknown> {
  await using client = createPlainClient({
    url,
    transport: 'http+sse',
    ...(token ? { token } : {}),
  });
  return new Promise((resolve) => {
    const sub = client.trpc.agent.events.subscribe(
      { threadId: 'thr_00000000000000000000000000' },
      {
        onData: () => resolve(new Error('received data without a valid token')),
        onError: (e) => {
          sub.unsubscribe();
          resolve(e);
        },
      },
    );
  });
}

describe('HS256 tokens with issuer and audience', () => {
  const env = { TRACEWIRE_AUTH_ISSUER: ISS, TRACEWIRE_AUTH_AUDIENCE: AUD };
  const bad = {
    missing: () => Promise.resolve(undefined),
    garbage: () => Promise.resolve('not-a-jwt'),
    forged: () => hsToken({ iss: ISS, aud: AUD }, 'another-secret-0123456789-0123456789-xyz'),
    'wrong audience': () => hsToken({ iss: ISS, aud: 'someone-else' }),
    'wrong issuer': () => hsToken({ iss: 'evil', aud: AUD }),
    'no subject': () => hsToken({ sub: '', iss: ISS, aud: AUD }),
    'alg none': () =>
      Promise.resolve(
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
          JSON.stringify({
            sub: 'alice',
            iss: ISS,
            aud: AUD,
            exp: Math.floor(Date.now() / 1000) + 60,
          }),
        ).toString('base64url')}.`,
      ),
    expired: () => hsToken({ iss: ISS, aud: AUD, expiresInSec: -10 }),
  } as const;

  test('forged, expired, wrong-audience, wrong-issuer and missing tokens are refused on HTTP, SSE and WS', async () => {
    await using srv = await startTestServer({ env });
    for (const [name, make] of Object.entries(bad)) {
      const token = await make();
      const http = await httpError(srv.url, token);
      expect(http.data, name).toMatchObject({ code: 'UNAUTHORIZED', appCode: 'UNAUTHORIZED' });
      expect(http.data?.requestId, name).toMatch(/\S/);
      const sse = await sseError(srv.url, token);
      expect(sse, name).toBeInstanceOf(TRPCClientError);
      expect((sse as TRPCClientError<AppRouter>).data, name).toMatchObject({
        code: 'UNAUTHORIZED',
      });
      const expected = name === 'expired' ? CLOSE_CODES.TOKEN_EXPIRED : CLOSE_CODES.UNAUTHORIZED;
      expect(await plainClientCloseCode(srv.wsUrl, token), name).toBe(expected);
    }
    const refusals = srv.server.transport.limits.stats().refusals;
    expect(refusals.auth_missing).toBe(1);
    expect(refusals.auth_expired_at_connect).toBe(1);
    expect(refusals.auth_invalid).toBe(Object.keys(bad).length - 2);
  });

  test('a token with the right issuer and audience is accepted on every transport', async () => {
    await using srv = await startTestServer({ env });
    const token = await srv.tokenFor('alice');
    for (const transport of ['ws', 'http+sse'] as const) {
      await using client = createPlainClient({ url: srv.url, token, transport });
      const thread = await client.trpc.chat.createThread.mutate({ title: transport });
      expect(thread.userId).toBe('alice');
    }
  });
});

describe('RS256', () => {
  test('a PEM public key verifies RS256 tokens; other keys and HS256 tokens made with the PEM are refused', async () => {
    const keys = await createRsaKeys();
    const other = await createRsaKeys('other');
    await using srv = await startTestServer({
      env: { TRACEWIRE_AUTH_PUBLIC_KEY: keys.publicPem.replace(/\n/g, '\\n') },
    });
    await using ok = createPlainClient({
      url: srv.url,
      token: await keys.sign({ sub: 'rsa-user' }),
      transport: 'ws',
    });
    expect((await ok.trpc.chat.createThread.mutate({})).userId).toBe('rsa-user');
    await using okHttp = createPlainClient({
      url: srv.url,
      token: await keys.sign({ sub: 'rsa-user' }),
      transport: 'http+sse',
    });
    expect((await okHttp.trpc.chat.listThreads.query({})).items).toHaveLength(1);

    expect((await httpError(srv.url, await other.sign())).data).toMatchObject({
      code: 'UNAUTHORIZED',
    });
    // Algorithm confusion: the public key used as an HMAC secret.
    const confused = await hsToken({}, keys.publicPem);
    expect((await httpError(srv.url, confused)).data).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(await plainClientCloseCode(srv.wsUrl, await other.sign())).toBe(
      CLOSE_CODES.UNAUTHORIZED,
    );
  });

  test('a JWKS served over loopback HTTP verifies RS256 tokens by kid, and an unreachable key set is UNAVAILABLE', async () => {
    const keys = await createRsaKeys('k1');
    const stranger = await createRsaKeys('k2');
    await using jwks = await startJwksServer([keys]);
    await using srv = await startTestServer({ env: { TRACEWIRE_AUTH_JWKS_URL: jwks.url } });
    await using ws = createPlainClient({
      url: srv.url,
      token: await keys.sign({ sub: 'jwks-user' }),
      transport: 'ws',
    });
    expect((await ws.trpc.chat.createThread.mutate({})).userId).toBe('jwks-user');
    await using http = createPlainClient({
      url: srv.url,
      token: await keys.sign({ sub: 'jwks-user' }),
      transport: 'http+sse',
    });
    expect((await http.trpc.chat.listThreads.query({})).items).toHaveLength(1);
    expect(jwks.hits).toBeGreaterThanOrEqual(1);
    expect((await httpError(srv.url, await stranger.sign())).data).toMatchObject({
      code: 'UNAUTHORIZED',
    });
    expect(await plainClientCloseCode(srv.wsUrl, await stranger.sign())).toBe(
      CLOSE_CODES.UNAUTHORIZED,
    );
    // HS256 still works alongside (a secret is configured).
    expect(
      (
        await createPlainClient({
          url: srv.url,
          token: await srv.tokenFor('hs-user'),
          transport: 'http+sse',
        }).trpc.chat.listThreads.query({})
      ).items,
    ).toEqual([]);

    await using down = await startTestServer({
      env: { TRACEWIRE_AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json' },
    });
    expect((await httpError(down.url, await keys.sign())).data).toMatchObject({
      appCode: 'UNAVAILABLE',
    });
    expect(await plainClientCloseCode(down.wsUrl, await keys.sign())).toBe(1013);
  });
});

describe('WebSocket connection lifecycle', () => {
  test('a socket that never sends connectionParams is closed with AUTH_TIMEOUT (4004)', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_WS_AUTH_TIMEOUT_MS: '300' } });
    await using raw = await openRawSocket(srv.wsUrl, { announceParams: true });
    expect((await raw.closed).code).toBe(CLOSE_CODES.AUTH_TIMEOUT);
    expect(raw.frames).toEqual([]);
    expect(srv.server.transport.limits.stats().refusals.auth_timeout).toBe(1);
  });

  test('a call sent instead of the connectionParams frame is not executed: PROTOCOL_ERROR (4011)', async () => {
    await using srv = await startTestServer();
    await using raw = await openRawSocket(srv.wsUrl, { announceParams: true });
    raw.send({
      id: 1,
      method: 'mutation',
      params: { path: 'chat.createThread', input: { json: {} } },
    });
    expect((await raw.closed).code).toBe(CLOSE_CODES.PROTOCOL_ERROR);
    expect(raw.frames).toEqual([]);
    expect(srv.server.transport.limits.stats().refusals.malformed_connection_params).toBe(1);
  });

  test('a disallowed Origin gets HTTP 403 on upgrade; allowed and absent Origins connect', async () => {
    await using srv = await startTestServer({
      env: { TRACEWIRE_ALLOWED_ORIGINS: 'https://app.example, https://admin.example' },
    });
    const token = await srv.tokenFor('alice');
    await expect(
      openRawSocket(srv.wsUrl, { token, origin: 'https://evil.example' }),
    ).rejects.toThrow('upgrade refused: 403');
    for (const origin of ['https://app.example', undefined]) {
      await using raw = await openRawSocket(srv.wsUrl, { token, ...(origin ? { origin } : {}) });
      raw.send({
        id: 1,
        method: 'query',
        params: { path: 'chat.listThreads', input: { json: {} } },
      });
      expect(await raw.waitFor((f) => (f as { id?: number }).id === 1)).toMatchObject({
        result: { type: 'data' },
      });
    }
    expect(srv.server.transport.limits.stats().refusals.forbidden_origin).toBe(1);
  });

  test('an open connection is closed with TOKEN_EXPIRED (4002) when its token expires', async () => {
    await using srv = await startTestServer();
    await using raw = await openRawSocket(srv.wsUrl, {
      token: await hsToken({ sub: 'alice', expiresInSec: 2 }),
    });
    raw.send({ id: 1, method: 'query', params: { path: 'chat.listThreads', input: { json: {} } } });
    expect(await raw.waitFor((f) => (f as { id?: number }).id === 1)).toMatchObject({
      result: { type: 'data' },
    });
    const closed = await raw.closed;
    expect(closed).toEqual({ code: CLOSE_CODES.TOKEN_EXPIRED, reason: 'token expired' });
    expect(srv.server.transport.limits.stats().refusals.token_expired_while_open).toBe(1);
  });

  test('the SDK reconnects after TOKEN_EXPIRED with a fresh token from getToken and keeps streaming', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_AGENT_PACE_MS: '5' } });
    let calls = 0;
    const closeCodes: number[] = [];
    let state = 'idle';
    await using client = createTracewireClient({
      url: srv.url,
      transport: 'ws',
      WebSocket,
      retry: { baseMs: 20, maxMs: 200 },
      getToken: async () =>
        calls++ === 0 ? hsToken({ sub: 'alice', expiresInSec: 2 }) : srv.tokenFor('alice'),
      onConnectionStateChange: (s) => {
        state = s.state;
        if (s.lastCloseCode !== null && closeCodes.at(-1) !== s.lastCloseCode)
          closeCodes.push(s.lastCloseCode);
      },
    });
    const thread = await client.trpc.chat.createThread.mutate({});
    const stream = client.events(thread.id);
    const received: ThreadEvent[] = [];
    const iterate = (async () => {
      for await (const e of stream) {
        received.push(e);
        if (isTerminalEvent(e)) break;
      }
    })();
    const deadline = Date.now() + 8_000;
    while (
      !(closeCodes.includes(CLOSE_CODES.TOKEN_EXPIRED) && state === 'pending') &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(closeCodes).toContain(CLOSE_CODES.TOKEN_EXPIRED);
    expect(calls).toBeGreaterThanOrEqual(2);
    // After the reconnect, the same stream delivers a new run.
    await client.trpc.chat.send.mutate({
      threadId: thread.id,
      content: 'what is 1+1?',
      clientMessageId: createClientMessageId(),
    });
    await Promise.race([
      iterate,
      new Promise((_, rej) =>
        setTimeout(() => rej(new Error('stream did not finish the run')), 8_000),
      ),
    ]);
    expect(received.at(-1)?.type).toBe('agent_completed');
    expect(received[0]?.type).toBe('agent_started');
  });
});
