import { createWSClient, type TRPCWebSocketClient } from '@trpc/client';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { startTestServer } from '../../test/helpers/server.js';
import { createTracewireClient } from './client.js';
import { createPromptFlush } from './promptFlush.js';

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

describe('prompt flush of WebSocket calls', () => {
  test("a call's frame leaves in the macrotask it was made in, not after tRPC's 1 ms timer", async () => {
    await using c = await openClient();
    const call = c.client.trpc.chat.listThreads.query({});
    // Queued after the SDK's flush: runs right after it, before any timer can fire. If this
    // fails after a tRPC upgrade, the wsClient internals promptFlush.ts relies on changed.
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

  test("the pinned tRPC's wsClient has the internals it needs; anything else keeps tRPC's timing", () => {
    const client: TRPCWebSocketClient = createWSClient({
      url: 'ws://127.0.0.1:9/trpc',
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      lazy: { enabled: true, closeMs: 0 },
    });
    const c = client as unknown as Record<string, unknown>;
    expect(typeof c['send']).toBe('function');
    expect(typeof (c['requestManager'] as Record<string, unknown>)['flush']).toBe('function');
    expect(typeof (c['activeConnection'] as Record<string, unknown>)['isOpen']).toBe('function');
    // An object without them: scheduling is a no-op, nothing throws.
    const fallback = createPromptFlush({} as TRPCWebSocketClient);
    expect(() => fallback.schedule()).not.toThrow();
    void client.close();
  });
});
