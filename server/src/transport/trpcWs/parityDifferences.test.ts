/**
 * Where Tracewire's WebSocket adapter answers differently from tRPC's `applyWSSHandler` on
 * purpose (its limits and close codes), each asserted on both sides with the same frames sent
 * to both; the rest of the protocol is byte for byte equal (parity.test.ts). The list is in
 * docs/architecture.md ("The WebSocket adapter").
 */
import { describe, expect, test } from 'vitest';
import { call, connectBoth, exchange, json, startPair } from './__tests__/parity.js';

describe('documented differences: Tracewire closes or refuses where tRPC’s adapter goes on', () => {
  test('a binary frame: tRPC answers PARSE_ERROR, Tracewire closes 4011', async () => {
    await using pair = await startPair();
    await using c = await connectBoth(pair, '');
    await exchange(c, [call(1, 'query', 'whoami', null)], 1);
    c.stock.send(Buffer.from(json(call(2, 'query', 'whoami', null))));
    c.ours.send(Buffer.from(json(call(2, 'query', 'whoami', null))));
    await c.stock.waitForCount(2);
    expect(JSON.parse(c.stock.texts[1]!)).toMatchObject({
      id: null,
      error: { json: { data: { code: 'PARSE_ERROR' } } },
    });
    expect(await c.ours.closed).toEqual({ code: 4011, reason: 'binary frames are not supported' });
    expect(c.ours.texts).toHaveLength(1);
  });

  test('a first frame that is not connectionParams: tRPC answers PARSE_ERROR and closes, Tracewire closes 4011', async () => {
    await using pair = await startPair();
    await using c = await connectBoth(pair, '?connectionParams=1');
    for (const conn of [c.stock, c.ours]) conn.send(json(call(1, 'query', 'whoami', null)));
    await c.stock.waitForCount(1);
    expect(JSON.parse(c.stock.texts[0]!)).toMatchObject({
      id: null,
      error: { json: { data: { code: 'PARSE_ERROR' } } },
    });
    expect((await c.stock.closed).code).toBe(1005);
    expect((await c.ours.closed).code).toBe(4011);
    expect(c.ours.texts).toEqual([]);
  });

  test('a first frame over the pre-auth limit: Tracewire closes 1009 before reading it whole', async () => {
    await using pair = await startPair({ limits: { preAuthBytes: 4_096 } });
    await using c = await connectBoth(pair, '?connectionParams=1');
    const big = json({ method: 'connectionParams', data: { user: 'x'.repeat(8_000) } });
    for (const conn of [c.stock, c.ours]) conn.send(big);
    const stock = await exchange(c, [call(1, 'query', 'whoami', null)], 0);
    await c.stock.waitForCount(1);
    expect(JSON.parse(c.stock.texts[0]!)).toMatchObject({
      result: { data: { json: 'x'.repeat(8_000) } },
    });
    expect(stock.ours).toEqual([]);
    expect((await c.ours.closed).code).toBe(1009);
  });

  test('JSON nested deeper than the limit: tRPC parses it, Tracewire closes 4011', async () => {
    await using pair = await startPair({ limits: { maxJsonDepth: 8 } });
    await using c = await connectBoth(pair, '');
    const deep = json(call(1, 'query', 'greet', { name: 'n', x: [[[[[[[[[1]]]]]]]]] }));
    for (const conn of [c.stock, c.ours]) conn.send(deep);
    await c.stock.waitForCount(1);
    expect(JSON.parse(c.stock.texts[0]!)).toMatchObject({
      id: 1,
      result: { data: { json: 'hello n' } },
    });
    expect((await c.ours.closed).code).toBe(4011);
  });

  test('more frames than the budget: tRPC answers them all, Tracewire closes 4029', async () => {
    await using pair = await startPair({ limits: { framesPerSecond: 1, frameBurst: 5 } });
    await using c = await connectBoth(pair, '');
    for (let i = 0; i < 8; i++)
      for (const conn of [c.stock, c.ours]) conn.send(json(call(i, 'query', 'whoami', null)));
    await c.stock.waitForCount(8);
    expect((await c.ours.closed).code).toBe(4029);
    expect(c.ours.texts.length).toBeLessThanOrEqual(5);
  });

  test('answers past the response budget: tRPC sends them, Tracewire answers PAYLOAD_TOO_LARGE, in call order', async () => {
    await using pair = await startPair({ limits: { responseBudgetBytes: 100_000 } });
    await using c = await connectBoth(pair, '');
    const batch = Array.from({ length: 6 }, (_, i) =>
      call(i, 'query', 'greet', { name: 'y'.repeat(30_000) }),
    );
    const got = await exchange(c, [batch], 6);
    const codes = (frames: string[]) =>
      frames.map(
        (f) =>
          (JSON.parse(f) as { error?: { json: { data: { code: string } } } }).error?.json.data
            .code ?? 'data',
      );
    expect(codes(got.stock)).toEqual(Array(6).fill('data'));
    expect(codes(got.ours)).toEqual([
      'data',
      'data',
      'data',
      'PAYLOAD_TOO_LARGE',
      'PAYLOAD_TOO_LARGE',
      'PAYLOAD_TOO_LARGE',
    ]);
    expect(got.ours.map((f) => (JSON.parse(f) as { id: number }).id)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
