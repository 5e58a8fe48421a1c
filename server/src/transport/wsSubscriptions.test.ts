import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { initTRPC, TRPCError } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { transformer } from '@tracewire/shared';
import { afterEach, expect, test } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createWireEncoder } from './wsEncoder.js';
import { ConnectionSubscriptions, type SubscriptionErrorInfo } from './wsSubscriptions.js';

/**
 * The module on its own, over a real loopback WebSocket, with procedures the app's router does
 * not have (one whose value cannot be encoded, one that ignores its signal, an observable).
 * The app's own subscriptions are covered end to end in test/delivery/wsSubscriptions.test.ts.
 */
const t = initTRPC.create({ transformer });
/** An async iterable that yields once, then waits until `return()` is called. */
function waitsForReturn() {
  let release: (r: IteratorResult<number>) => void = () => undefined;
  let yielded = false;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next(): Promise<IteratorResult<number>> {
      if (!yielded) {
        yielded = true;
        return Promise.resolve({ done: false, value: 1 });
      }
      return new Promise((resolve) => (release = resolve));
    },
    return(): Promise<IteratorResult<number>> {
      release({ done: true, value: undefined });
      return Promise.resolve({ done: true, value: undefined });
    },
  };
}
const router = t.router({
  unencodable: t.procedure.subscription(async function* () {
    await Promise.resolve();
    yield {
      toJSON() {
        throw new Error('cannot encode');
      },
    };
  }),
  ticks: t.procedure.subscription(async function* ({ signal }) {
    for (let i = 0; !signal?.aborted; i++) {
      yield i;
      await new Promise((r) => setTimeout(r, 5));
    }
  }),
  deaf: t.procedure.subscription(() => waitsForReturn()),
  legacy: t.procedure.subscription(() => observable<number>((emit) => emit.next(1))),
  refused: t.procedure.subscription(() => {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'not yours' });
  }),
});

interface Frame {
  id?: number;
  result?: { type: string; data?: unknown };
  error?: { json: { message: string; data: { code: string } } };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server socket whose frames go to a ConnectionSubscriptions, and a client that records. */
async function connect() {
  const errors: SubscriptionErrorInfo<object>[] = [];
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const frames: Frame[] = [];
  client.on('message', (b: Buffer) => frames.push(JSON.parse(b.toString('utf8')) as Frame));
  await once(client, 'open');
  const [socket] = await accepted;
  const subs = new ConnectionSubscriptions<object>(socket, {
    router,
    encoder: createWireEncoder(),
    maxBatchSize: 10,
    onError: (info) => errors.push(info),
  });
  subs.activate({});
  socket.on('message', (b: Buffer) => subs.take(b.toString('utf8')));
  cleanups.push(async () => {
    client.terminate();
    await new Promise((r) => wss.close(r));
  });
  const send = (msg: unknown) => client.send(JSON.stringify(msg));
  const subscribe = (id: number, path: string) =>
    send({ id, method: 'subscription', params: { path, input: { json: null } } });
  const of = (id: number) => frames.filter((f) => f.id === id);
  const types = (id: number) => of(id).map((f) => (f.error ? 'error' : f.result?.type));
  return { subs, errors, send, subscribe, of, types, socket };
}

test('a value that cannot be encoded ends its subscription with an error and stopped; the socket and other subscriptions go on', async () => {
  const c = await connect();
  c.subscribe(1, 'ticks');
  c.subscribe(2, 'unencodable');
  await expect.poll(() => c.types(2)).toEqual(['started', 'error', 'stopped']);
  expect(c.of(2)[1]?.error?.json.data.code).toBe('INTERNAL_SERVER_ERROR');
  expect(c.errors.map((e) => e.path)).toEqual(['unencodable']);
  const before = c.of(1).length;
  await expect.poll(() => c.of(1).length).toBeGreaterThan(before + 2);
  c.send({ id: 1, method: 'subscription.stop' });
  await expect.poll(() => c.types(1).at(-1)).toBe('stopped');
  expect(c.subs.size).toBe(0);
});

test('a stop ends an iterable that ignores its signal through its return()', async () => {
  const c = await connect();
  c.subscribe(3, 'deaf');
  await expect.poll(() => c.types(3)).toEqual(['started', 'data']);
  c.send({ id: 3, method: 'subscription.stop' });
  await expect.poll(() => c.types(3)).toEqual(['started', 'data', 'stopped']);
  expect(c.subs.size).toBe(0);
});

test('a procedure that throws, or returns an observable, is answered with an error and no stopped', async () => {
  const c = await connect();
  c.subscribe(4, 'refused');
  c.subscribe(5, 'legacy');
  c.subscribe(6, 'nothing.here');
  await expect
    .poll(() => [c.types(4), c.types(5), c.types(6)])
    .toEqual([['error'], ['error'], ['error']]);
  expect(c.of(4)[0]?.error?.json.data.code).toBe('FORBIDDEN');
  expect(c.of(5)[0]?.error?.json.message).toMatch(
    /did not return an observable or a AsyncGenerator/,
  );
  expect(c.of(6)[0]?.error?.json.data.code).toBe('NOT_FOUND');
  expect(c.errors.map((e) => e.error.code).sort()).toEqual([
    'FORBIDDEN',
    'INTERNAL_SERVER_ERROR',
    'NOT_FOUND',
  ]);
});

test('take() leaves other messages, and stops for ids it does not hold, to the adapter', async () => {
  const c = await connect();
  const query = { id: 7, method: 'query', params: { path: 'x', input: { json: null } } };
  expect(c.subs.take(JSON.stringify(query))).toBeUndefined();
  expect(c.subs.take(JSON.stringify({ id: 8, method: 'subscription.stop' }))).toBeUndefined();
  expect(c.subs.take('not json')).toBeUndefined();
  const sub = { id: 9, method: 'subscription', params: { path: 'ticks', input: { json: null } } };
  expect(c.subs.take(JSON.stringify([query, sub]))).toBe(JSON.stringify([query]));
  expect(c.subs.take(JSON.stringify({ id: 9, method: 'subscription.stop' }))).toBeNull();
  await expect.poll(() => c.types(9).at(-1)).toBe('stopped');
});
