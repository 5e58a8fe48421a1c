import { describe, expect, test } from 'vitest';
import { openRawSocket } from '../helpers/rawWs.js';
import { startTestServer } from '../helpers/server.js';

const ALLOWED = 'https://app.example';

/** A preflight as a browser sends it before a cross-origin POST with a bearer token. */
const preflight = (url: string, origin: string) =>
  fetch(`${url}/trpc/chat.createThread`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });

describe('CORS for /trpc from TRACEWIRE_ALLOWED_ORIGINS', () => {
  test('an allowed origin gets its preflight answered and the call served, without credentials', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_ALLOWED_ORIGINS: ALLOWED } });
    const pre = await preflight(srv.url, ALLOWED);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/POST/);
    const allowedHeaders = pre.headers.get('access-control-allow-headers')!.split(/,\s*/);
    expect(allowedHeaders).toEqual(expect.arrayContaining(['authorization', 'content-type']));
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    expect(pre.headers.get('vary')).toMatch(/Origin/);

    const token = await srv.tokenFor('alice');
    const res = await fetch(`${srv.url}/trpc/chat.createThread`, {
      method: 'POST',
      headers: {
        origin: ALLOWED,
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ json: { title: 'from a page' } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    const body = (await res.json()) as { result: { data: { json: { title: string } } } };
    expect(body.result.data.json.title).toBe('from a page');
  });

  test('a disallowed origin gets nothing: 403 without CORS headers, and its call never runs', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_ALLOWED_ORIGINS: ALLOWED } });
    const pre = await preflight(srv.url, 'https://evil.example');
    expect(pre.status).toBe(403);
    for (const name of ['allow-origin', 'allow-methods', 'allow-headers', 'allow-credentials'])
      expect(pre.headers.get(`access-control-${name}`), name).toBeNull();

    const token = await srv.tokenFor('alice');
    const res = await fetch(`${srv.url}/trpc/chat.createThread`, {
      method: 'POST',
      headers: {
        origin: 'https://evil.example',
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ json: { title: 'should not exist' } }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const threads = await fetch(
      `${srv.url}/trpc/chat.listThreads?input=${encodeURIComponent('{"json":{}}')}`,
      {
        headers: { authorization: `Bearer ${token}` },
      },
    );
    const list = (await threads.json()) as { result: { data: { json: { items: unknown[] } } } };
    expect(list.result.data.json.items).toEqual([]);
    expect(srv.server.transport.limits.stats().refusals.forbidden_origin).toBe(2);
  });

  test('with no allow-list any origin is served (`*`), and requests without Origin are untouched', async () => {
    await using srv = await startTestServer();
    const pre = await preflight(srv.url, 'https://anywhere.example');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    const plain = await fetch(
      `${srv.url}/trpc/chat.listThreads?input=${encodeURIComponent('{"json":{}}')}`,
    );
    expect(plain.status).toBe(401);
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
  });

  test("the server's own pages are same-origin: their WebSocket and calls pass any allow-list", async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_ALLOWED_ORIGINS: ALLOWED } });
    const token = await srv.tokenFor('alice');
    // A page served at srv.url sends its own origin, which names the Host it talks to.
    await using raw = await openRawSocket(srv.wsUrl, { token, origin: srv.url });
    raw.send({ id: 1, method: 'query', params: { path: 'chat.listThreads', input: { json: {} } } });
    expect(await raw.waitFor((f) => (f as { id?: number }).id === 1)).toMatchObject({
      result: { type: 'data' },
    });
    const res = await fetch(`${srv.url}/trpc/chat.createThread`, {
      method: 'POST',
      headers: {
        origin: srv.url,
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ json: {} }),
    });
    expect(res.status).toBe(200);
    // Another port on the same host is another origin.
    const otherPort = srv.url.replace(/:(\d+)$/, (_m, p: string) => `:${Number(p) + 1}`);
    await expect(openRawSocket(srv.wsUrl, { token, origin: otherPort })).rejects.toThrow(
      'upgrade refused: 403',
    );
  });
});
