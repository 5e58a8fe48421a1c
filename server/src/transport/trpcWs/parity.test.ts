/**
 * Parity with tRPC's own WebSocket adapter: one script of frames played, over real sockets,
 * against tRPC's `applyWSSHandler` and Tracewire's adapter serving the same router, and the
 * frames each writes compared byte for byte. A tRPC upgrade that changes the protocol fails
 * here. Where Tracewire answers differently on purpose (its limits and close codes), the
 * difference is asserted on both sides in parityDifferences.test.ts, and listed in
 * docs/architecture.md ("The WebSocket adapter").
 */
import { formatEventId } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { deltaDrafts, everyKindOfDraft } from '../../events/eventLog.contract.js';
import {
  call,
  connectBoth,
  exchange,
  input,
  json,
  params,
  startPair,
  stop,
  sub,
} from './__tests__/parity.js';
import type { TestWsServer } from './__tests__/wsServers.js';

/** Frames of one request id, in the order they came. */
const byId = (frames: string[]) => {
  const out = new Map<string, string[]>();
  for (const f of frames) {
    const id = json((JSON.parse(f) as { id?: unknown }).id ?? null);
    out.set(id, [...(out.get(id) ?? []), f]);
  }
  return Object.fromEntries([...out].sort(([a], [b]) => a.localeCompare(b)));
};

describe('frames written for the same script: tRPC’s adapter and Tracewire’s are byte for byte equal', () => {
  test('calls, errors, transformer annotations, subscriptions, resume, malformed frames, keepalive and the reconnect notification', async () => {
    await using pair = await startPair();
    await using c = await connectBoth(pair, '?connectionParams=1');
    /** Each step: what is sent, how many frames come back, and the order they must keep. */
    const steps: { name: string; send: (string | object)[]; frames: number; perId?: boolean }[] = [
      {
        name: 'connectionParams, then a query',
        send: [params('ann'), call(1, 'query', 'whoami', null)],
        frames: 1,
      },
      {
        name: 'jsonrpc echoed, string id',
        send: [{ ...call('m1', 'mutation', 'add', { a: 2, b: 3 }), jsonrpc: '2.0' }],
        frames: 1,
      },
      {
        name: 'BAD_REQUEST with the zod issues',
        send: [call(2, 'query', 'greet', { name: '' })],
        frames: 1,
      },
      { name: 'a thrown TRPCError', send: [call(3, 'query', 'forbidden', null)], frames: 1 },
      { name: 'a thrown Error', send: [call(4, 'query', 'crash', null)], frames: 1 },
      { name: 'superjson annotations', send: [call(5, 'query', 'epoch', null)], frames: 1 },
      { name: 'an unknown procedure', send: [call(6, 'query', 'nope.nothing', null)], frames: 1 },
      { name: 'the wrong procedure type', send: [call(7, 'mutation', 'whoami', null)], frames: 1 },
      {
        name: 'a streaming query over WebSocket',
        send: [call(8, 'query', 'streamingQuery', null)],
        frames: 1,
      },
      {
        name: 'a batch of calls',
        send: [
          [
            call(10, 'query', 'greet', { name: 'bo' }),
            call(11, 'query', 'greet', { name: 3 }),
            call(12, 'mutation', 'add', { a: 1, b: 1 }),
            call(13, 'query', 'forbidden', null),
          ],
        ],
        frames: 4,
        perId: true,
      },
      { name: 'a subscription that completes', send: [sub(20, 'finite', null)], frames: 4 },
      { name: 'tracked events', send: [sub(21, 'numbers', { count: 3 })], frames: 4 },
      { name: 'subscription.stop', send: [stop(21)], frames: 1 },
      { name: 'resume from lastEventId', send: [sub(22, 'numbers', { count: 2 }, '1')], frames: 3 },
      { name: 'a duplicate subscription id', send: [sub(22, 'numbers', { count: 1 })], frames: 1 },
      { name: 'stop after a duplicate', send: [stop(22)], frames: 1 },
      { name: 'a subscription that fails', send: [sub(24, 'failing', null)], frames: 4 },
      {
        name: 'a subscription that is not a stream',
        send: [sub(25, 'notIterable', null)],
        frames: 1,
      },
      { name: 'an unknown subscription', send: [sub(26, 'nope', null)], frames: 1 },
      { name: 'a frame that is not JSON', send: ['not json'], frames: 1 },
      { name: 'a message without a method', send: ['{"id":1}'], frames: 1 },
      { name: 'a null id', send: [call(null, 'query', 'whoami', null)], frames: 1 },
      {
        name: 'a non-string lastEventId',
        send: [
          {
            ...sub(27, 'numbers', { count: 1 }),
            params: { path: 'numbers', input: input({ count: 1 }), lastEventId: 5 },
          },
        ],
        frames: 1,
      },
      {
        name: 'an empty batch, a stop for no subscription, then a query',
        send: ['[]', stop(99), call(30, 'query', 'whoami', null)],
        frames: 1,
      },
      {
        name: 'a batch over the limit',
        send: [Array.from({ length: 11 }, (_, i) => call(40 + i, 'query', 'whoami', null))],
        frames: 11,
      },
      {
        name: 'a batch over the limit without ids',
        send: [json(Array.from({ length: 11 }, () => ({})))],
        frames: 1,
      },
      { name: 'PING', send: ['PING'], frames: 1 },
    ];
    for (const s of steps) {
      const got = await exchange(c, s.send, s.frames);
      if (s.perId) {
        // tRPC's adapter answers a batch's calls as each finishes, Tracewire's in call order
        // (one at a time, within the response budget): the same frames, per request.
        expect(byId(got.ours), s.name).toEqual(byId(got.stock));
        const ids = got.ours.map((f) => (JSON.parse(f) as { id: number }).id);
        expect(ids, s.name).toEqual([...ids].sort((a, b) => a - b));
      } else expect(got.ours, s.name).toEqual(got.stock);
    }

    // A thread's stream (Tracewire's subscription on a real event log): tRPC's adapter pulls
    // it, Tracewire's lets it write its frames itself. Backfill, then live events, plain and
    // annotated (Dates), then the stop.
    const { events } = pair.storage;
    const backfill = await events.append(
      pair.threadId,
      deltaDrafts({ threadId: pair.threadId, n: 3 }),
    );
    const from = formatEventId({ epoch: backfill[0]!.epoch, seq: 0 });
    const opened = await exchange(c, [sub(50, 'thread', { threadId: pair.threadId }, from)], 4);
    expect(opened.ours).toEqual(opened.stock);
    const live = [
      ...deltaDrafts({ threadId: pair.threadId, n: 2 }),
      ...everyKindOfDraft(pair.threadId),
    ];
    const waitLive = exchange(c, [], live.length);
    await events.append(pair.threadId, live);
    const liveFrames = await waitLive;
    expect(liveFrames.ours).toEqual(liveFrames.stock);
    expect(liveFrames.ours.some((f) => f.includes('"meta"'))).toBe(true);
    const stopped = await exchange(c, [stop(50)], 1);
    expect(stopped.ours).toEqual(stopped.stock);

    // The reconnect notification.
    const notified = exchange(c, [], 1);
    pair.stock.broadcastReconnectNotification();
    pair.ours.broadcastReconnectNotification();
    const reconnect = await notified;
    expect(reconnect.ours).toEqual(reconnect.stock);
    expect(reconnect.ours).toEqual(['{"id":null,"method":"reconnect"}']);
    // Nothing was reported differently either (a batch's calls run at once in tRPC's adapter,
    // in order in Tracewire's, so reports of one batch may come in another order).
    const reports = (s: TestWsServer) =>
      s.errors.map((e) => [e.type, e.path, e.error.code].join(' ')).sort();
    expect(reports(pair.ours)).toEqual(reports(pair.stock));
  });

  test('without connectionParams, with `%31` for `1`, and a refused context: the same frames and close', async () => {
    await using pair = await startPair();
    for (const [query, first] of [
      ['', null],
      ['?connectionParams=%31', params('bo')],
      ['?connectionParams=1', json({ method: 'connectionParams', data: null })],
    ] as const) {
      await using c = await connectBoth(pair, query);
      const got = await exchange(
        c,
        [...(first ? [first] : []), call(1, 'query', 'whoami', null)],
        1,
      );
      expect(got.ours, query).toEqual(got.stock);
    }
    await using refused = await connectBoth(pair, '?connectionParams=1');
    const got = await exchange(refused, [params('reject'), call(1, 'query', 'whoami', null)], 1);
    expect(got.ours).toEqual(got.stock);
    expect(JSON.parse(got.ours[0]!)).toMatchObject({
      id: null,
      error: { json: { data: { code: 'UNAUTHORIZED' } } },
    });
    const [stockClose, oursClose] = await Promise.all([refused.stock.closed, refused.ours.closed]);
    expect(oursClose).toEqual(stockClose);
  });
});
