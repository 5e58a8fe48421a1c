import { initTRPC, TRPCError } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { transformer } from '@tracewire/shared';
import { expect, test } from 'vitest';
import { openRawSocket } from '../../../../test/helpers/rawWs.js';
import { startTracewireWs, type TestWsContext } from './__tests__/wsServers.js';

/**
 * The adapter's subscriptions on their own, over a real loopback WebSocket, with procedures the
 * app's router does not have (a value that cannot be encoded, an iterable that ignores its
 * signal, an observable, a procedure that throws). The app's own subscriptions are covered end
 * to end in test/delivery/, and the frames against tRPC's adapter in parity.test.ts.
 */
const t = initTRPC.context<TestWsContext>().create({ transformer });

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
  legacy: t.procedure.subscription(() =>
    observable<number>((emit) => {
      emit.next(1);
      emit.complete();
    }),
  ),
  refused: t.procedure.subscription(() => {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'not yours' });
  }),
});

interface Frame {
  id?: number;
  result?: { type: string; data?: unknown };
  error?: { json: { message: string; data: { code: string } } };
}

async function connect() {
  const server = await startTracewireWs(router, () => ({ user: 'ann' }));
  const client = await openRawSocket(`${server.url}/trpc`, { announceParams: true });
  client.send(JSON.stringify({ method: 'connectionParams', data: { user: 'ann' } }));
  const parsed = () => client.frames as Frame[];
  const subscribe = (id: number, path: string) =>
    client.send(
      JSON.stringify({ id, method: 'subscription', params: { path, input: { json: null } } }),
    );
  const of = (id: number) => parsed().filter((f) => f.id === id);
  const types = (id: number) => of(id).map((f) => (f.error ? 'error' : f.result?.type));
  return {
    server,
    client,
    subscribe,
    of,
    types,
    async [Symbol.asyncDispose]() {
      await client[Symbol.asyncDispose]();
      await server[Symbol.asyncDispose]();
    },
  };
}

test('a value that cannot be encoded ends its subscription with an error and stopped; the socket and other subscriptions go on', async () => {
  await using c = await connect();
  c.subscribe(1, 'ticks');
  c.subscribe(2, 'unencodable');
  await expect.poll(() => c.types(2)).toEqual(['started', 'error', 'stopped']);
  expect(c.of(2)[1]?.error?.json.data.code).toBe('INTERNAL_SERVER_ERROR');
  expect(c.server.errors.map((e) => e.path)).toEqual(['unencodable']);
  const before = c.of(1).length;
  await expect.poll(() => c.of(1).length).toBeGreaterThan(before + 2);
  c.client.send(JSON.stringify({ id: 1, method: 'subscription.stop' }));
  await expect.poll(() => c.types(1).at(-1)).toBe('stopped');
});

test('a stop ends an iterable that ignores its signal through its return()', async () => {
  await using c = await connect();
  c.subscribe(3, 'deaf');
  await expect.poll(() => c.types(3)).toEqual(['started', 'data']);
  c.client.send(JSON.stringify({ id: 3, method: 'subscription.stop' }));
  await expect.poll(() => c.types(3)).toEqual(['started', 'data', 'stopped']);
  // The id is free again.
  c.subscribe(3, 'deaf');
  await expect.poll(() => c.types(3)).toEqual(['started', 'data', 'stopped', 'started', 'data']);
});

test('a procedure that throws, or is not there, is answered with an error and no stopped; an observable is served as tRPC serves it', async () => {
  await using c = await connect();
  c.subscribe(4, 'refused');
  c.subscribe(5, 'legacy');
  c.subscribe(6, 'nothing.here');
  await expect
    .poll(() => [c.types(4), c.types(5), c.types(6)])
    .toEqual([['error'], ['started', 'data', 'stopped'], ['error']]);
  expect(c.of(4)[0]?.error?.json.data.code).toBe('FORBIDDEN');
  expect(c.of(6)[0]?.error?.json.data.code).toBe('NOT_FOUND');
  expect(c.server.errors.map((e) => e.error.code).sort()).toEqual(['FORBIDDEN', 'NOT_FOUND']);
});

test('the socket closing stops every subscription and frees the connection', async () => {
  await using c = await connect();
  c.subscribe(7, 'ticks');
  c.subscribe(8, 'deaf');
  await expect.poll(() => [c.types(7)[0], c.types(8)[0]]).toEqual(['started', 'started']);
  c.client.ws.close();
  await c.client.closed;
  await expect.poll(() => c.server.registry.stats().open).toBe(0);
});
