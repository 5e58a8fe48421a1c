import { queryObjects } from 'node:v8';
import { CLOSE_CODES } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { waitFor } from '../helpers/collect.js';
import { probeListeners } from '../helpers/listenerProbe.js';
import { connectRawWs } from '../helpers/rawWsClient.js';
import { openRawSocket, type RawSocket } from '../helpers/rawWs.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** The frames of tRPC's WebSocket protocol these tests read. */
interface Frame {
  id?: number | string | null;
  jsonrpc?: string;
  result?: { type: string; id?: string; data?: { json: { id: string; data: { type: string } } } };
  error?: { json: { message: string; data: { code: string; requestId?: string } } };
}
const framesFor = (raw: RawSocket, id: number) =>
  (raw.frames as Frame[]).filter((f) => typeof f === 'object' && f !== null && f.id === id);
const isFor = (id: number, pred: (f: Frame) => boolean) => (f: unknown) =>
  typeof f === 'object' && f !== null && (f as Frame).id === id && pred(f);
const typed = (type: string) => (f: Frame) => f.result?.type === type;
const failed = (f: Frame) => f.error !== undefined;

const subscription = (id: number, threadId: string, path = 'agent.events') => ({
  id,
  method: 'subscription',
  params: { path, input: { json: { threadId } } },
});

async function threadOf(
  srv: TestServer,
  userId: string,
): Promise<{ raw: RawSocket; threadId: string }> {
  const raw = await openRawSocket(srv.wsUrl, { token: await srv.tokenFor(userId) });
  raw.send({
    id: 1,
    method: 'mutation',
    params: { path: 'chat.createThread', input: { json: {} } },
  });
  const created = (await raw.waitFor(isFor(1, typed('data')))) as {
    result: { data: { json: { id: string } } };
  };
  return { raw, threadId: created.result.data.json.id };
}

describe('WebSocket subscriptions (Tracewire’s adapter, tRPC’s wire protocol)', () => {
  test('started, tracked data, then stopped after subscription.stop, with jsonrpc echoed; the stream is released', async () => {
    await using srv = await startTestServer();
    const listeners = probeListeners(srv.server.services.events);
    const { raw, threadId } = await threadOf(srv, 'alice');
    await using _raw = raw;
    raw.send({ ...subscription(2, threadId), jsonrpc: '2.0' });
    await raw.waitFor(isFor(2, typed('data')));
    const [started, position] = framesFor(raw, 2);
    expect(started).toEqual({ id: 2, jsonrpc: '2.0', result: { type: 'started' } });
    const trackedId = position?.result?.id;
    expect(trackedId).toMatch(/^[\w-]+:0$/);
    expect(position).toEqual({
      id: 2,
      jsonrpc: '2.0',
      result: {
        type: 'data',
        id: trackedId,
        data: {
          json: {
            id: trackedId,
            data: expect.objectContaining({ type: 'stream_position', threadId }),
          },
        },
      },
    });
    expect(listeners.active).toBe(1);

    raw.send({ id: 2, jsonrpc: '2.0', method: 'subscription.stop' });
    expect(await raw.waitFor(isFor(2, typed('stopped')))).toEqual({
      id: 2,
      jsonrpc: '2.0',
      result: { type: 'stopped' },
    });
    await waitFor(() => listeners.active === 0);
    // The id is free again.
    raw.send(subscription(2, threadId));
    await waitFor(() => framesFor(raw, 2).filter(typed('started')).length === 2);
  });

  test('a frame mixing a query and subscriptions is split: each is answered, and a duplicate id is refused while the first streams', async () => {
    await using srv = await startTestServer();
    const { raw, threadId } = await threadOf(srv, 'alice');
    await using _raw = raw;
    raw.send([
      { id: 10, method: 'query', params: { path: 'chat.listThreads', input: { json: {} } } },
      subscription(11, threadId),
      subscription(11, threadId),
    ]);
    await raw.waitFor(isFor(10, typed('data')));
    await raw.waitFor(isFor(11, typed('data')));
    const duplicate = (await raw.waitFor(isFor(11, failed))) as Frame;
    expect(duplicate.error?.json.message).toBe('Duplicate id 11');
    expect(duplicate.error?.json.data.code).toBe('BAD_REQUEST');
    expect(framesFor(raw, 11).filter(typed('stopped'))).toEqual([]);
  });

  test('a procedure that fails to start answers an error shape with a request id and no stopped', async () => {
    await using srv = await startTestServer();
    const { raw, threadId } = await threadOf(srv, 'alice');
    await using _raw = raw;
    const other = await threadOf(srv, 'bob');
    await using _other = other.raw;
    raw.send(subscription(20, threadId, 'agent.nothing'));
    raw.send({
      id: 21,
      method: 'subscription',
      params: { path: 'agent.events', input: { json: {} } },
    });
    raw.send(subscription(22, other.threadId));
    for (const [id, code] of [
      [20, 'NOT_FOUND'],
      [21, 'BAD_REQUEST'],
      [22, 'NOT_FOUND'],
    ] as const) {
      const f = (await raw.waitFor(isFor(id, failed))) as Frame;
      expect(f.error?.json.data.code).toBe(code);
      expect(f.error?.json.data.requestId).toMatch(/\S/);
    }
    // A later call's answer comes after anything those three could still send.
    raw.send({
      id: 23,
      method: 'query',
      params: { path: 'chat.listThreads', input: { json: {} } },
    });
    await raw.waitFor(isFor(23, typed('data')));
    // 22 started (its access check runs with the first pull), so it ends with stopped.
    expect(framesFor(raw, 20).filter(typed('stopped'))).toEqual([]);
    expect(framesFor(raw, 21).filter(typed('stopped'))).toEqual([]);
  });

  test('frames refused whole (a batch over the limit, or with an invalid message) start nothing', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_MAX_BATCH_SIZE: '2' } });
    const { raw, threadId } = await threadOf(srv, 'alice');
    await using _raw = raw;
    raw.send([subscription(30, threadId), subscription(31, threadId), subscription(32, threadId)]);
    for (const id of [30, 31, 32]) {
      const f = (await raw.waitFor(isFor(id, failed))) as Frame;
      expect(f.error?.json.message).toBe('Batch call exceeds maximum size');
    }
    raw.send([subscription(33, threadId), { id: 34, method: 'subscription' }]);
    const parseError = (await raw.waitFor(
      (f) => (f as Frame).id === null && failed(f as Frame),
    )) as Frame;
    expect(parseError.error?.json.data.code).toBe('PARSE_ERROR');
    raw.send({
      id: 35,
      method: 'query',
      params: { path: 'chat.listThreads', input: { json: {} } },
    });
    await raw.waitFor(isFor(35, typed('data')));
    for (const id of [30, 31, 32, 33, 34])
      expect(framesFor(raw, id).filter(typed('started'))).toEqual([]);
  });

  test('a subscription sent before the credentials are checked waits for them; with a bad token nothing starts and the socket closes 4001', async () => {
    await using srv = await startTestServer();
    const { raw: setup, threadId } = await threadOf(srv, 'alice');
    await setup[Symbol.asyncDispose]();
    // openRawSocket sends connectionParams on open; the subscription follows at once.
    await using early = await openRawSocket(srv.wsUrl, { token: await srv.tokenFor('alice') });
    early.send(subscription(40, threadId));
    early.send(subscription(42, threadId));
    early.send({ id: 42, method: 'subscription.stop' });
    await early.waitFor(isFor(40, typed('data')));
    // Stopped while waiting: it never starts, and says stopped (as the adapter does).
    await early.waitFor(isFor(42, typed('stopped')));
    expect(framesFor(early, 42).map((f) => f.result?.type)).toEqual(['stopped']);

    await using bad = await openRawSocket(srv.wsUrl, { token: 'not-a-token' });
    bad.send(subscription(41, threadId));
    expect((await bad.closed).code).toBe(CLOSE_CODES.UNAUTHORIZED);
    expect(framesFor(bad, 41).filter(typed('started'))).toEqual([]);
  });

  test('an idle subscription holds a handful of promises (tRPC’s adapter held about twenty)', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_MAX_CONNECTIONS_PER_USER: '40' } });
    const { raw: setup, threadId } = await threadOf(srv, 'alice');
    await using _setup = setup;
    const token = await srv.tokenFor('alice');
    const clients = await Promise.all(
      Array.from({ length: 30 }, () => connectRawWs({ wsUrl: srv.wsUrl, token })),
    );
    try {
      const promises = () => queryObjects(Promise) as number;
      const before = promises();
      for (const c of clients) c.subscribe({ threadId });
      await Promise.all(clients.map((c) => c.waitFor((e) => e.length === 1)));
      const perSubscription = (promises() - before) / clients.length;
      expect(perSubscription).toBeLessThan(8);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});
