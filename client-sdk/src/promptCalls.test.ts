import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { startTestServer } from '../../test/helpers/server.js';
import { startTcpProxy } from './__tests__/tcpProxy.js';
import { createTracewireClient } from './client.js';

/** `ws`, recording every text frame the client sends, in order. */
function recordingWebSocket(frames: string[]): typeof WebSocket {
  return class RecordingWebSocket extends WebSocket {
    override send(data: unknown, ...rest: unknown[]): void {
      if (typeof data === 'string') frames.push(data);
      (super.send as (...a: unknown[]) => void)(data, ...rest);
    }
  };
}

const endOfMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The tRPC request ids in a frame (tRPC sends one message, or an array of them). */
const requestIds = (frame: string): unknown[] => {
  const parsed = JSON.parse(frame) as { id: unknown } | { id: unknown }[];
  return (Array.isArray(parsed) ? parsed : [parsed]).map((m) => m.id);
};

async function openClient() {
  const server = await startTestServer();
  const frames: string[] = [];
  const client = createTracewireClient({
    url: server.url,
    token: await server.tokenFor('alice'),
    WebSocket: recordingWebSocket(frames),
    transport: 'ws',
  });
  // The first call also waits for the socket to open; later ones find it open.
  await client.trpc.chat.createThread.mutate({ title: 'warm-up' });
  frames.length = 0;
  return {
    client,
    frames,
    [Symbol.asyncDispose]: async () => {
      await client.close();
      await server[Symbol.asyncDispose]();
    },
  };
}

describe('prompt WebSocket calls', () => {
  test("a call's frame leaves in the macrotask it was made in, not after tRPC's 1 ms timer", async () => {
    await using c = await openClient();
    const call = c.client.trpc.chat.listThreads.query({});
    // Queued after the SDK's flush: runs right after it, before any timer can fire.
    await endOfMacrotask();
    expect(c.frames.filter((f) => f.includes('"chat.listThreads"'))).toHaveLength(1);
    const page = await call;
    expect(page.items.map((t) => t.title)).toEqual(['warm-up']);
  });

  test('calls made in the same macrotask still leave together, in one frame', async () => {
    await using c = await openClient();
    const calls = [
      c.client.trpc.chat.createThread.mutate({ title: 'one' }),
      c.client.trpc.chat.createThread.mutate({ title: 'two' }),
      c.client.trpc.chat.listThreads.query({}),
    ];
    await endOfMacrotask();
    expect(c.frames).toHaveLength(1);
    expect(requestIds(c.frames[0]!)).toHaveLength(3);
    const [one, two, page] = await Promise.all(calls);
    expect([one, two].map((t) => (t as { title: string }).title)).toEqual(['one', 'two']);
    expect((page as { items: unknown[] }).items.length).toBeGreaterThanOrEqual(1);
  });

  test('a call made before the socket opens is sent by tRPC once it opens', async () => {
    await using server = await startTestServer();
    const frames: string[] = [];
    await using client = createTracewireClient({
      url: server.url,
      token: await server.tokenFor('bob'),
      WebSocket: recordingWebSocket(frames),
      transport: 'ws',
    });
    const call = client.trpc.chat.createThread.mutate({ title: 'early' });
    await endOfMacrotask();
    expect(frames).toHaveLength(0);
    await expect(call).resolves.toMatchObject({ title: 'early' });
    expect(frames.filter((f) => f.includes('"chat.createThread"'))).toHaveLength(1);
  });

  test('a query and a mutation answered on the same socket as a subscription get their own answers, errors included', async () => {
    await using c = await openClient();
    const thread = await c.client.trpc.chat.createThread.mutate({ title: 'mix' });
    const events: string[] = [];
    const sub = c.client.trpc.agent.events.subscribe(
      { threadId: thread.id },
      { onData: (e) => events.push(e.data.type) },
    );
    const [page, missing] = await Promise.all([
      c.client.trpc.chat.listThreads.query({}),
      c.client.trpc.agent.run.query({ runId: 'run_nope' }).catch((e: unknown) => e),
    ]);
    expect(page.items.map((t) => t.title)).toContain('mix');
    expect((missing as { data?: { code?: string } }).data?.code).toBe('BAD_REQUEST');
    await expect.poll(() => events).toContain('stream_position');
    sub.unsubscribe();
    // The calls went out under string ids; the subscription under tRPC's numeric ones.
    const ids = c.frames.flatMap(requestIds);
    expect(ids.filter((id) => typeof id === 'string').length).toBeGreaterThanOrEqual(3);
    expect(ids.some((id) => typeof id === 'number')).toBe(true);
  });

  test('a call in flight when its socket closes fails as tRPC fails it, with the close as its cause', async () => {
    await using server = await startTestServer();
    await using proxy = await startTcpProxy(server.url);
    await using client = createTracewireClient({
      url: proxy.url,
      token: await server.tokenFor('carol'),
      WebSocket,
      transport: 'ws',
    });
    await client.trpc.chat.createThread.mutate({ title: 'warm-up' });
    // The answer to the next call never arrives: the connection is cut when it comes by.
    proxy.onServerChunk = (chunk) => chunk.toString('utf8').includes('"items"');
    const err = (await client.trpc.chat.listThreads.query({}).catch((e: unknown) => e)) as {
      name?: string;
      cause?: { type?: string; code?: number };
    };
    expect(err.name).toBe('TRPCClientError');
    expect(err.cause).toMatchObject({ type: 'close', code: 1006 });
  });
});
