import type { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@tracewire/server';
import { CLOSE_CODES, INPUT_LIMITS, createClientMessageId } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { waitFor } from '../helpers/collect.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { openRawSocket, type RawSocket } from '../helpers/rawWs.js';
import { errorOf } from '../helpers/errors.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A raw socket authenticated as `user`, proven active by one answered query. */
async function activeSocket(srv: TestServer, user: string): Promise<RawSocket> {
  const raw = await openRawSocket(srv.wsUrl, { token: await srv.tokenFor(user) });
  raw.send({
    id: 'probe',
    method: 'query',
    params: { path: 'chat.listThreads', input: { json: {} } },
  });
  await raw.waitFor((f) => (f as { id?: string }).id === 'probe');
  return raw;
}

const refusals = (srv: TestServer) => srv.server.transport.limits.stats().refusals;

describe('connection limits', () => {
  test('a user past TRACEWIRE_MAX_CONNECTIONS_PER_USER is closed with TOO_MANY_CONNECTIONS (4009); other users are not', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_MAX_CONNECTIONS_PER_USER: '2' } });
    await using a1 = await activeSocket(srv, 'alice');
    await using a2 = await activeSocket(srv, 'alice');
    await using a3 = await openRawSocket(srv.wsUrl, { token: await srv.tokenFor('alice') });
    expect(await a3.closed).toEqual({
      code: CLOSE_CODES.TOO_MANY_CONNECTIONS,
      reason: 'at most 2 connections per user',
    });
    await using b1 = await activeSocket(srv, 'bob');
    expect(b1.ws.readyState).toBe(b1.ws.OPEN);
    expect(a1.ws.readyState).toBe(a1.ws.OPEN);
    // A slot frees up when a connection closes.
    a2.ws.close();
    await a2.closed;
    await waitFor(() => srv.server.transport.connections.countForUser('alice' as never) === 1);
    await using a4 = await activeSocket(srv, 'alice');
    expect(a4.ws.readyState).toBe(a4.ws.OPEN);
    expect(refusals(srv).connections_per_user).toBe(1);
  });

  test('past TRACEWIRE_MAX_CONNECTIONS every new socket is closed with 4009 before authenticating', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_MAX_CONNECTIONS: '2' } });
    await using a = await activeSocket(srv, 'alice');
    await using b = await activeSocket(srv, 'bob');
    await using c = await openRawSocket(srv.wsUrl, { token: await srv.tokenFor('carol') });
    expect((await c.closed).code).toBe(CLOSE_CODES.TOO_MANY_CONNECTIONS);
    expect(c.frames).toEqual([]);
    expect([a.ws.readyState, b.ws.readyState]).toEqual([a.ws.OPEN, b.ws.OPEN]);
    expect(refusals(srv).connections_global).toBe(1);
  });
});

describe('subscription limits', () => {
  test('a subscription past TRACEWIRE_MAX_SUBSCRIPTIONS_PER_CONNECTION is refused with TOO_MANY_REQUESTS; a stopped one frees its slot', async () => {
    await using srv = await startTestServer({
      env: { TRACEWIRE_MAX_SUBSCRIPTIONS_PER_CONNECTION: '2' },
    });
    await using raw = await activeSocket(srv, 'alice');
    const thread = await createThread(raw);
    const sub = (id: number) =>
      raw.send({
        id,
        method: 'subscription',
        params: { path: 'agent.events', input: { json: { threadId: thread } } },
      });
    sub(1);
    sub(2);
    await raw.waitFor((f) => (f as { id?: number }).id === 2);
    sub(3);
    const refused = (await raw.waitFor(
      (f) => (f as { id?: number; error?: unknown }).id === 3 && 'error' in (f as object),
    )) as {
      error: { json: { data: { code: string; appCode: string }; message: string } };
    };
    expect(refused.error.json.data).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      appCode: 'TOO_MANY_REQUESTS',
    });
    expect(refused.error.json.message).toBe('at most 2 subscriptions per connection');
    raw.send({ id: 1, method: 'subscription.stop' });
    await raw.waitFor(
      (f) =>
        (f as { id?: number; result?: { type?: string } }).id === 1 &&
        (f as { result?: { type?: string } }).result?.type === 'stopped',
    );
    sub(4);
    expect(await raw.waitFor((f) => (f as { id?: number }).id === 4)).toMatchObject({
      result: { type: 'started' },
    });
    expect(refusals(srv).subscriptions_per_connection).toBe(1);
    // Duplicate subscription ids are tRPC's own BAD_REQUEST.
    sub(2);
    expect(
      await raw.waitFor(
        (f) => (f as { id?: number; error?: unknown }).id === 2 && 'error' in (f as object),
      ),
    ).toMatchObject({
      error: { json: { message: 'Duplicate id 2', data: { code: 'BAD_REQUEST' } } },
    });
  });

  test("a subscription that fails (another user's thread) frees its slot and reports the mapped error with its request id", async () => {
    await using srv = await startTestServer({
      env: { TRACEWIRE_MAX_SUBSCRIPTIONS_PER_CONNECTION: '1' },
    });
    await using alice = await activeSocket(srv, 'alice');
    await using bob = await activeSocket(srv, 'bob');
    const aliceThread = await createThread(alice);
    const bobThread = await createThread(bob);
    const sub = (id: number, threadId: string) =>
      bob.send({
        id,
        method: 'subscription',
        params: {
          path: 'agent.events',
          input: { json: { threadId, _meta: { requestId: `req-${id}` } } },
        },
      });
    // Each refusal ends its stream, and each end frees the one slot for the next try.
    for (const id of [1, 2, 3]) {
      sub(id, aliceThread);
      const failed = (await bob.waitFor(
        (f) => (f as { id?: number; error?: unknown }).id === id && 'error' in (f as object),
      )) as { error: { json: { data: { code: string; requestId?: string } } } };
      expect(failed.error.json.data).toMatchObject({ code: 'NOT_FOUND', requestId: `req-${id}` });
    }
    sub(4, bobThread);
    expect(
      await bob.waitFor(
        (f) =>
          (f as { id?: number; result?: { type?: string } }).id === 4 &&
          (f as { result?: { type?: string } }).result?.type === 'data',
      ),
    ).toMatchObject({ result: { data: { json: { data: { type: 'stream_position' } } } } });
    expect(refusals(srv).subscriptions_per_connection ?? 0).toBe(0);
  });

  test('SSE streams past the per-user connection limit are refused with TOO_MANY_REQUESTS', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_MAX_CONNECTIONS_PER_USER: '2' } });
    await using alice = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('alice'),
      transport: 'http+sse',
    });
    const thread = await alice.trpc.chat.createThread.mutate({});
    const got: string[] = [];
    const subs = [1, 2, 3].map((i) =>
      alice.trpc.agent.events.subscribe(
        { threadId: thread.id },
        {
          onData: () => got.push(`data${i}`),
          onError: (e) => got.push(`error${i}:${(e as TRPCClientError<AppRouter>).data?.code}`),
        },
      ),
    );
    await waitFor(
      () =>
        got.some((g) => g.startsWith('error')) &&
        got.filter((g) => g.startsWith('data')).length >= 2,
    );
    expect(got.filter((g) => g.startsWith('error'))).toEqual([
      expect.stringMatching(/^error\d:TOO_MANY_REQUESTS$/),
    ]);
    for (const s of subs) s.unsubscribe();
    expect(refusals(srv).sse_streams_per_user).toBe(1);
  });
});

describe('mutation and run limits', () => {
  test('mutations past the per-user token bucket get TOO_MANY_REQUESTS with the wait; other users are unaffected', async () => {
    await using srv = await startTestServer({
      env: { TRACEWIRE_MUTATIONS_PER_SECOND: '1', TRACEWIRE_MUTATION_BURST: '3' },
    });
    await using alice = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('alice'),
      transport: 'ws',
    });
    await using bob = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('bob'),
      transport: 'http+sse',
    });
    for (let i = 0; i < 3; i++) await alice.trpc.chat.createThread.mutate({});
    const refused = await errorOf(alice.trpc.chat.createThread.mutate({}));
    expect(refused.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', appCode: 'TOO_MANY_REQUESTS' });
    expect(refused.message).toMatch(/retry after \d+ ms/);
    // Queries are not mutations: still served.
    expect((await alice.trpc.chat.listThreads.query({})).items).toHaveLength(3);
    expect((await bob.trpc.chat.createThread.mutate({})).userId).toBe('bob');
    expect(refusals(srv).mutation_rate).toBe(1);
  });

  test('chat.send past TRACEWIRE_MAX_CONCURRENT_RUNS_PER_USER is TOO_MANY_REQUESTS and counted', async () => {
    await using srv = await startTestServer({
      env: { TRACEWIRE_MAX_CONCURRENT_RUNS_PER_USER: '1' },
    });
    await using alice = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('alice'),
      transport: 'http+sse',
    });
    const thread = await alice.trpc.chat.createThread.mutate({});
    const send = (content: string) =>
      alice.trpc.chat.send.mutate({
        threadId: thread.id,
        content,
        clientMessageId: createClientMessageId(),
      });
    const { run } = await send('slow-run');
    expect((await errorOf(send('another'))).data).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    await alice.trpc.chat.cancel.mutate({ runId: run.id });
    expect(refusals(srv).concurrent_runs).toBe(1);
  });
});

describe('size limits', () => {
  test('a WebSocket frame over TRACEWIRE_MAX_PAYLOAD_BYTES closes the socket with 1009', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_MAX_PAYLOAD_BYTES: '2048' } });
    await using raw = await activeSocket(srv, 'alice');
    raw.send({
      id: 9,
      method: 'mutation',
      params: { path: 'chat.createThread', input: { json: { title: 'x'.repeat(4096) } } },
    });
    expect((await raw.closed).code).toBe(CLOSE_CODES.MESSAGE_TOO_BIG);
    await waitFor(() => refusals(srv).ws_payload_too_large === 1);
  });

  test('an HTTP body over TRACEWIRE_MAX_BODY_BYTES is PAYLOAD_TOO_LARGE (413)', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_MAX_BODY_BYTES: '2048' } });
    const res = await fetch(`${srv.url}/trpc/chat.createThread`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await srv.tokenFor('alice')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ json: { title: 'x'.repeat(4096) } }),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as {
      error: { json: { data: { code: string; appCode: string } } };
    };
    expect(body.error.json.data).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      appCode: 'PAYLOAD_TOO_LARGE',
    });
    expect(refusals(srv).http_payload_too_large).toBe(1);
  });

  test('a batch over TRACEWIRE_MAX_BATCH_SIZE is refused over HTTP and over WS, each call answered', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_MAX_BATCH_SIZE: '2' } });
    const token = await srv.tokenFor('alice');
    const input = encodeURIComponent(
      JSON.stringify({ 0: { json: {} }, 1: { json: {} }, 2: { json: {} } }),
    );
    const res = await fetch(
      `${srv.url}/trpc/chat.listThreads,chat.listThreads,chat.listThreads?batch=1&input=${input}`,
      {
        headers: { authorization: `Bearer ${token}` },
      },
    );
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('Batch call exceeds maximum size');

    await using raw = await activeSocket(srv, 'alice');
    raw.send(
      [1, 2, 3].map((id) => ({
        id,
        method: 'query',
        params: { path: 'chat.listThreads', input: { json: {} } },
      })),
    );
    for (const id of [1, 2, 3]) {
      expect(await raw.waitFor((f) => (f as { id?: number }).id === id)).toMatchObject({
        error: {
          json: { message: 'Batch call exceeds maximum size', data: { code: 'BAD_REQUEST' } },
        },
      });
    }
    expect(refusals(srv).batch_too_large).toBe(2);
  });

  test('input fields past the contract limits are BAD_REQUEST naming the field', async () => {
    await using srv = await startTestServer();
    await using alice = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('alice'),
      transport: 'ws',
    });
    const thread = await alice.trpc.chat.createThread.mutate({});
    const cases: [string, Promise<unknown>][] = [
      [
        'content',
        alice.trpc.chat.send.mutate({
          threadId: thread.id,
          content: 'x'.repeat(INPUT_LIMITS.contentMaxChars + 1),
          clientMessageId: createClientMessageId(),
        }),
      ],
      [
        'title',
        alice.trpc.chat.createThread.mutate({ title: 't'.repeat(INPUT_LIMITS.titleMaxChars + 1) }),
      ],
      ['limit', alice.trpc.chat.listThreads.query({ limit: INPUT_LIMITS.pageSizeMax + 1 })],
      [
        'cursor',
        alice.trpc.chat.history.query({
          threadId: thread.id,
          cursor: 'c'.repeat(INPUT_LIMITS.cursorMaxChars + 1),
        }),
      ],
    ];
    for (const [field, call] of cases) {
      const err = await errorOf(call);
      expect(err.data?.code, field).toBe('BAD_REQUEST');
      expect(Object.keys(err.data?.zodError?.fieldErrors ?? {}), field).toContain(field);
    }
    const events = await new Promise<unknown>((resolve) => {
      const sub = alice.trpc.agent.events.subscribe(
        { threadId: thread.id, lastEventId: 'e'.repeat(INPUT_LIMITS.eventIdMaxChars + 1) },
        {
          onData: () => resolve('data'),
          onError: (e) => {
            sub.unsubscribe();
            resolve(e);
          },
        },
      );
    });
    expect((events as TRPCClientError<AppRouter>).data).toMatchObject({ code: 'BAD_REQUEST' });
  });
});

async function createThread(raw: RawSocket): Promise<string> {
  raw.send({
    id: 'ct',
    method: 'mutation',
    params: { path: 'chat.createThread', input: { json: {} } },
  });
  const f = (await raw.waitFor((x) => (x as { id?: string }).id === 'ct')) as {
    result: { data: { json: { id: string } } };
  };
  return f.result.data.json.id;
}
