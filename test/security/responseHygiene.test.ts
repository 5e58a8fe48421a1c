import { describe, expect, test } from 'vitest';
import { startChildServer } from '../helpers/childServer.js';
import { openRawSse } from '../helpers/rawSse.js';
import { errorsOf, inputQuery, rawTrpc } from '../helpers/trpcHttp.js';

/**
 * Issue 28, items 11 and 12: what leaves a production server besides answers. Internal
 * error texts (the runtime's, a library's) never reach clients: they are logged under the
 * request id the client gets. Every HTTP response carries the security headers.
 */

/** Texts of V8, JSON.parse and library errors that must never reach a production client. */
const INTERNAL_TEXT =
  /call stack|Cannot read propert|is not a function|is not defined|Unexpected (token|end)|in JSON at position|Expected property name|undefined \(reading|null \(reading|at file:/i;

describe('error texts in production', () => {
  test('internal error texts never reach clients; withheld ones are logged with the request id the client got', async () => {
    await using srv = await startChildServer({ env: { NODE_ENV: 'production' } });
    const token = await srv.tokenFor('prober');
    const batchOf = (n: number, input: unknown) =>
      `batch=1&input=${encodeURIComponent(JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [i, input]))))}`;
    const probes: Record<string, Parameters<typeof rawTrpc>[2] & { path?: string }> = {
      'superjson meta that overflowed the stack': {
        query: inputQuery({ x: '1' }, { values: { x: ['custom', 'bigint'] }, v: 1 }),
      },
      'an annotation path into nothing': {
        query: inputQuery({}, { values: { 'a.b.c': ['Date'] }, v: 1 }),
      },
      'a null input': { query: 'input=null' },
      'malformed JSON in the query': { query: 'input=%7B' },
      'malformed JSON in a POST body': {
        path: 'chat.createThread',
        method: 'POST',
        body: '{"json":',
      },
      'an unknown procedure': { path: 'chat.nothing', query: inputQuery({}) },
      'a batch whose input is not an object': {
        path: 'chat.listThreads,chat.listThreads',
        query: 'batch=1&input=7',
      },
      'a batch of malformed annotations': {
        path: 'chat.listThreads,chat.listThreads',
        query: batchOf(2, { json: {}, meta: { values: 'x', v: 1 } }),
      },
    };
    const withheld: string[] = [];
    for (const [name, { path, ...opts }] of Object.entries(probes)) {
      const res = await rawTrpc(srv.url, path ?? 'chat.listThreads', { token, ...opts });
      expect(res.status, name).toBeGreaterThanOrEqual(400);
      expect(res.status, name).toBeLessThan(500);
      expect(res.text, name).not.toMatch(INTERNAL_TEXT);
      for (const error of errorsOf(res.json)) {
        expect(error, name).toBeDefined();
        expect(error!.data.requestId, name).toMatch(/\S/);
        expect(error!.data, name).not.toHaveProperty('stack');
        if (error!.message.startsWith('Bad request: the input could not be processed'))
          withheld.push(error!.data.requestId);
      }
    }
    // The JSON parse failures were withheld; their details are in the log under the same id.
    expect(withheld.length).toBeGreaterThanOrEqual(2);
    for (const requestId of withheld) {
      const line = await srv.waitForLine(new RegExp(`"request_id":"${requestId}"`), 2_000);
      expect(line).toContain('error details withheld from the client');
      expect(line).toMatch(INTERNAL_TEXT);
    }
  });
});

describe('security headers', () => {
  test('every API response says nosniff and no-store and carries a strict Content-Security-Policy', async () => {
    await using srv = await startChildServer();
    const token = await srv.tokenFor('headers');
    const responses: Record<string, Response | { headers: Headers; status: number }> = {
      'a query': await rawTrpc(srv.url, 'chat.listThreads', { token, query: inputQuery({}) }),
      'a refused call': await rawTrpc(srv.url, 'chat.listThreads', { query: inputQuery({}) }),
      'a mutation': await rawTrpc(srv.url, 'chat.createThread', {
        token,
        method: 'POST',
        body: JSON.stringify({ json: {} }),
      }),
      liveness: await fetch(`${srv.url}/health/live`),
      readiness: await fetch(`${srv.url}/health/ready`),
      metrics: await fetch(`${srv.url}/metrics`),
      'an unknown path': await fetch(`${srv.url}/nothing-here`),
    };
    for (const [name, res] of Object.entries(responses)) {
      if ('body' in res && res.body) await res.arrayBuffer();
      expect(res.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(res.headers.get('cache-control'), name).toBe('no-store');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, name).toContain("default-src 'none'");
      expect(csp, name).toContain("frame-ancestors 'none'");
    }
    // An event stream keeps tRPC's own no-cache (nothing caches a stream) and gets the rest.
    await using sse = await openRawSse(srv.url, 'agent.events', {
      input: { threadId: 'thr_00000000000000000000000000' },
      headerToken: token,
    });
    expect(sse.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(sse.headers.get('x-content-type-options')).toBe('nosniff');
    expect(sse.headers.get('content-security-policy')).toContain("default-src 'none'");
  });
});
