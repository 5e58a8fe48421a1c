import { createClientMessageId, formatEventId, transformer } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { waitFor } from '../helpers/collect.js';
import { readWholeStream } from '../helpers/eventLogRead.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { openRawSocket } from '../helpers/rawWs.js';
import { TEST_BACKENDS, startTestServer } from '../helpers/server.js';

type Frame = {
  id: unknown;
  jsonrpc?: string;
  result?: { type: string; id?: string; data?: { json: { id: string; data: { type: string } } } };
};

/**
 * A thread stream writes its frames itself, through its subscription's writer (see
 * `events/threadSubscription.ts`); these are the frames a tRPC client must see, exactly as
 * tRPC's adapter writes them, for every subscription of a connection, up to `stopped` and
 * never after.
 */
describe.each(TEST_BACKENDS)('on the %s back ends', (backend) => {
  test('two subscriptions on one socket each get started, the stream position, every event of the log as tRPC data frames with their own id, and nothing after stopped', async () => {
    await using srv = await startTestServer({ backend, env: { TRACEWIRE_AGENT_PACE_MS: '0' } });
    const token = await srv.tokenFor('alice');
    await using plain = createPlainClient({ url: srv.url, token, transport: 'http+sse' });
    const thread = await plain.trpc.chat.createThread.mutate({});
    await using raw = await openRawSocket(srv.wsUrl, { token });
    const subscribe = (id: number | string, jsonrpc?: '2.0') =>
      raw.send({
        id,
        ...(jsonrpc ? { jsonrpc } : {}),
        method: 'subscription',
        params: { path: 'agent.events', input: transformer.serialize({ threadId: thread.id }) },
      });
    subscribe(1, '2.0');
    subscribe('b');
    const framesOf = (id: unknown) => (raw.frames as Frame[]).filter((f) => f.id === id);
    const eventsOf = (id: unknown) =>
      framesOf(id)
        .filter((f) => f.result?.type === 'data')
        .map((f) => f.result!.data!.json.data);
    const completed = (id: unknown) =>
      eventsOf(id).filter((e) => e.type === 'agent_completed').length;
    await waitFor(() => eventsOf(1).length === 1 && eventsOf('b').length === 1);

    const send = (content: string) =>
      plain.trpc.chat.send.mutate({
        threadId: thread.id,
        content,
        clientMessageId: createClientMessageId(),
      });
    await send('what is 6 * 7? then count the words in this sentence');
    await waitFor(() => completed(1) === 1 && completed('b') === 1, 10_000);

    raw.send({ id: 1, method: 'subscription.stop' });
    await raw.waitFor((f) => (f as Frame).id === 1 && (f as Frame).result?.type === 'stopped');
    await send('and now the time, please');
    await waitFor(() => completed('b') === 2, 10_000);
    // Give any stray write for the stopped subscription a chance to arrive.
    await new Promise((r) => setTimeout(r, 100));

    const log = await readWholeStream(srv.server.services.events, thread.id);
    const firstRun = log.slice(0, log.findIndex((e) => e.type === 'agent_completed') + 1);
    expect(firstRun.length).toBeGreaterThan(4);
    const dataFrame = (id: unknown, jsonrpc: string | undefined, e: (typeof log)[number]) => {
      const trackedId = formatEventId(e);
      const data = transformer.serialize({ id: trackedId, data: e });
      return JSON.parse(
        JSON.stringify({ id, jsonrpc, result: { type: 'data', data, id: trackedId } }),
      ) as unknown;
    };
    for (const [id, jsonrpc, events] of [
      [1, '2.0', firstRun],
      ['b', undefined, log],
    ] as const) {
      const frames = framesOf(id);
      expect(frames[0]).toEqual({
        id,
        ...(jsonrpc ? { jsonrpc } : {}),
        result: { type: 'started' },
      });
      expect(frames[1]!.result!.data!.json.data).toMatchObject({
        type: 'stream_position',
        headSeq: 0,
      });
      const data = frames.slice(2).filter((f) => f.result?.type === 'data');
      expect(data).toEqual(events.map((e) => dataFrame(id, jsonrpc, e)));
    }
    // Subscription 1 ends with `stopped`, and nothing of the second run reached it.
    expect(framesOf(1).at(-1)).toEqual({ id: 1, jsonrpc: '2.0', result: { type: 'stopped' } });
    expect(framesOf(1)).toHaveLength(2 + 1 + firstRun.length);
  });
});
