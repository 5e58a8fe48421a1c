/** The parity suite's script helpers: both servers, one client on each, a step on both. */
import { transformer, type ThreadId, type UserId } from '@tracewire/shared';
import { TRPCError } from '@trpc/server';
import { openTestStorage } from '../../../storage/sqlite/__tests__/testStorage.js';
import type { WsLimits } from '../types.js';
import { createParityRouter } from './parityRouter.js';
import { openRawSocket, type RawSocket } from '../../../../../test/helpers/rawWs.js';
import { startStockTrpcWs, startTracewireWs, type TestCreateContext } from './wsServers.js';

/** The context both servers make: `{ user }` from connectionParams; `reject` is refused. */
export const createContext: TestCreateContext = (params) => {
  if (params?.['user'] === 'reject')
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'rejected' });
  return { user: params?.['user'] ?? null };
};

/** JSON text of a frame. */
export const json = (v: unknown) => JSON.stringify(v);
/** A call's input as the wire carries it. */
export const input = (v: unknown) => transformer.serialize(v);
/** A query or mutation message. */
export const call = (
  id: number | string | null,
  method: 'query' | 'mutation',
  path: string,
  v: unknown,
) => ({ id, method, params: { path, input: input(v) } }) as const;
/** A subscription message (with the client's last event id, when given). */
export const sub = (id: number | string, path: string, v: unknown, lastEventId?: string) => ({
  id,
  method: 'subscription',
  params: { path, input: input(v), ...(lastEventId === undefined ? {} : { lastEventId }) },
});
/** A `subscription.stop` message. */
export const stop = (id: number | string) => ({ id, method: 'subscription.stop' });
/** The `connectionParams` frame of `user`. */
export const params = (user: string) => json({ method: 'connectionParams', data: { user } });

/**
 * Both servers on one router and one event log, with one thread. Differences the suite
 * documents (see the second `describe`): Tracewire closes 4011 on a binary frame, a first frame
 * that is not `connectionParams` or JSON nested too deep; 1009 on a first frame over the
 * pre-auth limit; 4029 past the frame budget; answers PAYLOAD_TOO_LARGE past the response
 * budget; and answers a batch's calls in call order.
 */
export async function startPair(opts: { limits?: Partial<WsLimits> } = {}) {
  const storage = await openTestStorage();
  const thread = await storage.store.createThread({
    userId: 'ann' as UserId,
    title: 'parity',
    agent: 'demo',
  });
  const threadId: ThreadId = thread.id;
  const router = createParityRouter(storage.events);
  const stock = await startStockTrpcWs(router, createContext);
  const ours = await startTracewireWs(router, createContext, opts);
  return {
    storage,
    threadId,
    stock,
    ours,
    async [Symbol.asyncDispose]() {
      await ours[Symbol.asyncDispose]();
      await stock[Symbol.asyncDispose]();
      await storage[Symbol.asyncDispose]();
    },
  };
}

/** Both servers of one test. */
export type Pair = Awaited<ReturnType<typeof startPair>>;

/** One client on each server, opened the same way. */
export async function connectBoth(pair: Pair, query: string) {
  const a = await openRawSocket(`${pair.stock.url}/trpc`, { query });
  const b = await openRawSocket(`${pair.ours.url}/trpc`, { query });
  return {
    stock: a,
    ours: b,
    async [Symbol.asyncDispose]() {
      await a[Symbol.asyncDispose]();
      await b[Symbol.asyncDispose]();
    },
  };
}

/**
 * Sends the same frames on both connections, waits for `frames` more frames on each, and
 * returns what each got in this step (nothing more must arrive: checked by the next step).
 */
export async function exchange(
  conns: { stock: RawSocket; ours: RawSocket },
  send: (string | object)[],
  frames: number,
): Promise<{ stock: string[]; ours: string[] }> {
  const got = await Promise.all(
    [conns.stock, conns.ours].map(async (c) => {
      const from = c.texts.length;
      for (const f of send) c.send(typeof f === 'string' ? f : json(f));
      await c.waitForCount(from + frames);
      // A little longer: a frame too many shows as a difference, not as a later step's.
      await new Promise((r) => setTimeout(r, 20));
      return c.texts.slice(from);
    }),
  );
  return { stock: got[0]!, ours: got[1]! };
}
