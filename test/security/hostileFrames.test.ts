import { CLOSE_CODES } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { openRawSocket, type RawSocket } from '../helpers/rawWs.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface ErrorFrame {
  id: number | string | null;
  error: { json: { message: string; data: { code: string } } };
}
const isErrorFor = (id: number | string | null) => (f: unknown) =>
  typeof f === 'object' && f !== null && (f as ErrorFrame).id === id && 'error' in f;

async function authed(srv: TestServer): Promise<RawSocket> {
  return openRawSocket(srv.wsUrl, { token: await srv.tokenFor('mallory') });
}

const query = (id: number, path: string, json: unknown) => ({
  id,
  method: 'query',
  params: { path, input: { json } },
});

describe('hostile frames over a raw WebSocket', () => {
  test('malformed JSON and wrong envelopes get PARSE_ERROR replies and the connection stays usable', async () => {
    await using srv = await startTestServer();
    await using raw = await authed(srv);
    const garbage = [
      '{"id":1,',
      'not json at all',
      '42',
      '"a string"',
      'null',
      '{"foo":"bar"}',
      '{"id":{},"method":"query"}',
      '{"id":1,"method":"query"}',
      '{"id":2,"method":"bogus","params":{}}',
    ];
    for (const g of garbage) raw.send(g);
    // Each frame is answered once; none of them has a usable id, so the replies carry id null.
    await waitCount(raw, (f) => isErrorFor(null)(f), garbage.length);
    const codes = raw.frames
      .filter(isErrorFor(null))
      .map((f) => (f as ErrorFrame).error.json.data.code);
    expect(new Set(codes)).toEqual(new Set(['PARSE_ERROR']));
    raw.send(query(10, 'chat.listThreads', {}));
    expect(await raw.waitFor((f) => (f as { id?: number }).id === 10)).toMatchObject({
      result: { type: 'data' },
    });
  });

  test('unknown paths, wrong procedure types, null ids and invalid _meta get typed errors', async () => {
    await using srv = await startTestServer();
    await using raw = await authed(srv);
    raw.send(query(1, 'nope.nothing', {}));
    raw.send(query(2, 'chat.createThread', {}));
    raw.send({
      id: 3,
      method: 'mutation',
      params: { path: 'chat.listThreads', input: { json: {} } },
    });
    raw.send({
      id: 4,
      method: 'subscription',
      params: { path: 'chat.listThreads', input: { json: {} } },
    });
    raw.send(query(5, 'chat.listThreads', { _meta: { requestId: 'has spaces and ; semicolons' } }));
    raw.send(query(6, 'chat.listThreads', { _meta: { traceparent: 'zz', extra: 1 } }));
    raw.send(query(7, 'chat.listThreads', { _meta: 'not-an-object' }));
    raw.send({
      id: null,
      method: 'query',
      params: { path: 'chat.listThreads', input: { json: {} } },
    });
    raw.send({ id: 8, method: 'subscription.stop' });
    const expected: Record<number, string> = {
      1: 'NOT_FOUND',
      2: 'NOT_FOUND',
      3: 'NOT_FOUND',
      4: 'NOT_FOUND',
      5: 'BAD_REQUEST',
      6: 'BAD_REQUEST',
      7: 'BAD_REQUEST',
    };
    for (const [id, code] of Object.entries(expected)) {
      const f = (await raw.waitFor(isErrorFor(Number(id)))) as ErrorFrame;
      expect(f.error.json.data.code, `id ${id}`).toBe(code);
    }
    expect(((await raw.waitFor(isErrorFor(null))) as ErrorFrame).error.json.message).toBe(
      '`id` is required',
    );
    expect(raw.ws.readyState).toBe(raw.ws.OPEN);
  });

  test('superjson metadata cannot pollute prototypes or crash the parser', async () => {
    await using srv = await startTestServer();
    await using raw = await authed(srv);
    const hostileMeta = [
      { values: { '__proto__.polluted': ['undefined'] } },
      { values: { 'constructor.prototype.polluted': ['undefined'] } },
      { values: { title: ['class', 'Nope'] } },
      { values: { 'a.b.c.d': [['custom', 'x']] } },
      { referentialEqualities: { title: ['__proto__'] } },
      'not-an-object',
    ];
    hostileMeta.forEach((meta, i) =>
      raw.send({
        id: i + 1,
        method: 'mutation',
        params: { path: 'chat.createThread', input: { json: { title: 'x' }, meta } },
      }),
    );
    await waitCount(
      raw,
      (f) => typeof (f as { id?: unknown }).id === 'number' || (f as { id?: unknown }).id === null,
      hostileMeta.length,
    );
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    raw.send(query(99, 'chat.listThreads', {}));
    expect(await raw.waitFor((f) => (f as { id?: number }).id === 99)).toMatchObject({
      result: { type: 'data' },
    });
  });

  test('huge inputs under maxPayload are refused by the input limits, not stored', async () => {
    await using srv = await startTestServer();
    await using raw = await authed(srv);
    raw.send({
      id: 1,
      method: 'mutation',
      params: { path: 'chat.createThread', input: { json: { title: 'x'.repeat(900_000) } } },
    });
    raw.send({
      id: 2,
      method: 'mutation',
      params: {
        path: 'chat.createThread',
        input: { json: { junk: Array.from({ length: 50_000 }, (_, i) => i) } },
      },
    });
    expect(((await raw.waitFor(isErrorFor(1))) as ErrorFrame).error.json.data.code).toBe(
      'BAD_REQUEST',
    );
    // Unknown keys are stripped by the schema: the thread is created without them.
    expect(await raw.waitFor((f) => (f as { id?: number }).id === 2)).toMatchObject({
      result: { type: 'data' },
    });
  });

  test('deeply nested JSON is closed with PROTOCOL_ERROR before parsing', async () => {
    await using srv = await startTestServer();
    await using raw = await authed(srv);
    raw.send(query(1, 'chat.listThreads', {}));
    await raw.waitFor((f) => (f as { id?: number }).id === 1);
    raw.send(
      `{"id":2,"method":"query","params":{"path":"chat.listThreads","input":{"json":${'['.repeat(200_000)}${']'.repeat(200_000)}}}}`,
    );
    expect(await raw.closed).toMatchObject({ code: CLOSE_CODES.PROTOCOL_ERROR });
    expect(srv.server.transport.limits.stats().refusals.json_depth).toBe(1);
  });

  test('binary frames are closed with PROTOCOL_ERROR and never executed', async () => {
    await using srv = await startTestServer();
    await using raw = await authed(srv);
    raw.send(
      Buffer.from(
        JSON.stringify({
          id: 1,
          method: 'mutation',
          params: { path: 'chat.createThread', input: { json: {} } },
        }),
      ),
    );
    expect(await raw.closed).toMatchObject({
      code: CLOSE_CODES.PROTOCOL_ERROR,
      reason: 'binary frames are not supported',
    });
    expect(raw.frames).toEqual([]);
    expect(srv.server.transport.limits.stats().refusals.binary_frame).toBe(1);
  });

  test('a flood of frames is closed with RATE_LIMITED and the frames past the budget are dropped', async () => {
    await using srv = await startTestServer({
      env: { TRACEWIRE_WS_FRAMES_PER_SECOND: '20', TRACEWIRE_WS_FRAME_BURST: '50' },
    });
    await using raw = await authed(srv);
    for (let i = 0; i < 500; i++) raw.send(query(i, 'chat.listThreads', {}));
    expect((await raw.closed).code).toBe(CLOSE_CODES.RATE_LIMITED);
    // connectionParams + at most the burst (plus what refilled meanwhile) were answered.
    expect(raw.frames.length).toBeLessThan(60);
    expect(srv.server.transport.limits.stats().refusals.frame_rate).toBe(1);
    const health = await fetch(`${srv.url}/health/ready`);
    expect(health.status).toBe(200);
  });

  test('PING is answered with PONG', async () => {
    await using srv = await startTestServer();
    await using raw = await authed(srv);
    raw.send('PING');
    expect(await raw.waitFor((f) => f === 'PONG')).toBe('PONG');
  });
});

async function waitCount(
  raw: RawSocket,
  pred: (f: unknown) => boolean,
  n: number,
  timeoutMs = 5_000,
): Promise<void> {
  const start = Date.now();
  while (raw.frames.filter(pred).length < n) {
    if (Date.now() - start > timeoutMs)
      throw new Error(
        `only ${raw.frames.filter(pred).length}/${n} frames: ${JSON.stringify(raw.frames).slice(0, 800)}`,
      );
    await new Promise((r) => setTimeout(r, 10));
  }
}
