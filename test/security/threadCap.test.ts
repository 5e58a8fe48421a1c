import { describe, expect, test } from 'vitest';
import { startChildServer } from '../helpers/childServer.js';
import { openRawSocket } from '../helpers/rawWs.js';
import { errorsOf, inputQuery, rawTrpc } from '../helpers/trpcHttp.js';

/** Issue 28, item 14: threads per user are capped, race-free, and the refusals are counted. */

/** The refusal counter of one limit in the Prometheus text of `/metrics`. */
function refusals(metrics: string, limit: string): number {
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith('tracewire_limits_refusals_total{') && l.includes(`"${limit}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('threads per user', () => {
  test('concurrent creates over HTTP and WebSocket stop exactly at the cap with FORBIDDEN; other users are unaffected; refusals are counted', async () => {
    const cap = 5;
    await using srv = await startChildServer({
      env: { TRACEWIRE_MAX_THREADS_PER_USER: String(cap) },
    });
    const token = await srv.tokenFor('hoarder');
    const overHttp = Array.from({ length: 20 }, () =>
      rawTrpc(srv.url, 'chat.createThread', {
        token,
        method: 'POST',
        body: JSON.stringify({ json: { title: 'mine' } }),
      }),
    );
    await using ws = await openRawSocket(`${srv.url.replace(/^http/, 'ws')}/trpc`, { token });
    // One frame with a batch of ten creates, racing the HTTP requests.
    ws.send(
      Array.from({ length: 10 }, (_, i) => ({
        id: i + 1,
        method: 'mutation',
        params: { path: 'chat.createThread', input: { json: { title: 'ws' } } },
      })),
    );
    const http = await Promise.all(overHttp);
    const wsAnswers = (await Promise.all(
      Array.from({ length: 10 }, (_, i) => ws.waitFor((f) => (f as { id?: number }).id === i + 1)),
    )) as { result?: unknown; error?: unknown }[];

    const created =
      http.filter((r) => r.status === 200).length + wsAnswers.filter((a) => a.result).length;
    expect(created).toBe(cap);
    for (const res of http.filter((r) => r.status !== 200)) {
      expect(res.status).toBe(403);
      const error = errorsOf(res.json)[0]!;
      expect([error.data.appCode, error.message]).toEqual([
        'FORBIDDEN',
        `at most ${cap} threads per user`,
      ]);
    }
    for (const error of errorsOf(wsAnswers.filter((a) => a.error)))
      expect(error?.data.appCode).toBe('FORBIDDEN');

    const listed = await rawTrpc(srv.url, 'chat.listThreads', {
      token,
      query: inputQuery({ limit: 100 }),
    });
    expect(
      (listed.json as { result: { data: { json: { items: unknown[] } } } }).result.data.json.items,
    ).toHaveLength(cap);
    const other = await rawTrpc(srv.url, 'chat.createThread', {
      token: await srv.tokenFor('someone-else'),
      method: 'POST',
      body: JSON.stringify({ json: {} }),
    });
    expect(other.status).toBe(200);
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    expect(refusals(metrics, 'threads_per_user')).toBe(30 - cap);
  });
});
