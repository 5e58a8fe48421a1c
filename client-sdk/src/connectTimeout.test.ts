import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { signToken } from '@tracewire/server';
import { startTestServer, TEST_AUTH_SECRET } from '../../test/helpers/server.js';
import { closedPort } from './__tests__/closedPort.js';
import { createTracewireClient } from './client.js';
import { getErrorInfo, isConnectionUnavailable } from './errors.js';
import type { ThreadEvent } from './types.js';

/** Settles `p`, failing the test when it is still pending after `ms`. */
async function outcomeWithin<T>(p: Promise<T>, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p.then(
        (value) => ({ ok: true as const, value, error: null as unknown }),
        (error: unknown) => ({ ok: false as const, value: null, error }),
      ),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const waitUntil = async (cond: () => boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('a client that cannot connect never hangs', () => {
  test("over 'ws', a call to a server that is down fails with UNAVAILABLE naming the URL; the client keeps reconnecting and works once it is up", async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    // Signed with the secret the server will have: it is down for now.
    const token = await signToken({ secret: TEST_AUTH_SECRET, userId: 'carol' });
    await using client = createTracewireClient({
      url,
      token,
      WebSocket,
      transport: 'ws',
      connectTimeoutMs: 600,
      retry: { baseMs: 50, maxMs: 200 },
    });
    const started = Date.now();
    const first = await outcomeWithin(client.trpc.chat.listThreads.query({}), 5_000);
    expect(first.ok).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(isConnectionUnavailable(first.error)).toBe(true);
    const info = getErrorInfo(first.error);
    expect(info.appCode).toBe('UNAVAILABLE');
    expect(info.message).toContain(`ws://127.0.0.1:${port}/trpc`);
    expect(info.message).toMatch(/never connected.*not running.*URL is wrong/);
    expect(client.state).toMatchObject({ status: 'unavailable', everConnected: false });

    // While unavailable, a new call fails at once.
    const t = Date.now();
    const second = await outcomeWithin(client.trpc.chat.listThreads.query({}), 2_000);
    expect(getErrorInfo(second.error).appCode).toBe('UNAVAILABLE');
    expect(Date.now() - t).toBeLessThan(300);

    // The server comes up on that port: the client connects by itself.
    await using _srv = await startTestServer({ env: { PORT: String(port) } });
    await waitUntil(() => client.state.status === 'connected', 5_000, 'the client to connect');
    expect(client.state.everConnected).toBe(true);
    expect((await client.trpc.chat.listThreads.query({})).items).toEqual([]);
  });

  test('an events() stream opened while the server is down resumes when it comes back', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'tracewire-down-'));
    try {
      let threadId: string;
      let token: string;
      {
        await using srv = await startTestServer({ env: { PORT: String(port) }, dataDir });
        token = await srv.tokenFor('dave');
        await using setup = createTracewireClient({ url, token, WebSocket });
        threadId = (await setup.trpc.chat.createThread.mutate({})).id;
      }
      await using client = createTracewireClient({
        url,
        token,
        WebSocket,
        connectTimeoutMs: 400,
        retry: { baseMs: 50, maxMs: 300 },
      });
      const stream = client.events(threadId);
      await waitUntil(() => client.state.status === 'unavailable', 5_000, 'unavailable');
      await new Promise((r) => setTimeout(r, 500));
      expect(stream.stats.resubscribes).toBeGreaterThan(0);

      await using srv = await startTestServer({ env: { PORT: String(port) }, dataDir });
      await waitUntil(() => client.state.status === 'connected', 5_000, 'connected');
      await stream.ready;
      const sent = await client.send(threadId, 'what is 2+3?');
      const seen: ThreadEvent[] = [];
      for await (const event of stream) {
        seen.push(event);
        if (event.type === 'agent_completed' && event.runId === sent.run.id) break;
      }
      expect(seen[0]).toMatchObject({ type: 'agent_started', runId: sent.run.id });
      expect(seen.map((e) => e.type)).toContain('tool_completed');
      void srv;
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('from an origin the server refuses (close 1006 in a browser), streamRun fails with UNAVAILABLE naming the allow-list instead of waiting forever', async () => {
    await using srv = await startTestServer({
      env: { TRACEWIRE_ALLOWED_ORIGINS: 'https://app.example' },
    });
    const token = await srv.tokenFor('erin');
    // A browser on another site: its WebSocket carries that Origin; its HTTP calls get no
    // CORS answer (Node's fetch sends no Origin, so they work here).
    class ForeignPageWebSocket extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[]) {
        super(address, protocols, { origin: 'https://evil.example' });
      }
    }
    await using client = createTracewireClient({
      url: srv.url,
      token,
      WebSocket: ForeignPageWebSocket,
      connectTimeoutMs: 800,
      retry: { baseMs: 50, maxMs: 200 },
    });
    const thread = await client.trpc.chat.createThread.mutate({});
    const started = Date.now();
    const drained = await outcomeWithin(
      (async () => {
        for await (const _event of client.streamRun(thread.id, 'hello')) {
          /* nothing arrives */
        }
      })(),
      6_000,
    );
    expect(drained.ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
    const info = getErrorInfo(drained.error);
    expect(info.appCode).toBe('UNAVAILABLE');
    expect(info.message).toContain(`${srv.wsUrl}`);
    expect(info.message).toContain('TRACEWIRE_ALLOWED_ORIGINS');
    expect(client.state.status).toBe('unavailable');
    // Nothing was sent: the run could not be followed, so it was never started.
    expect((await client.trpc.chat.history.query({ threadId: thread.id })).items).toEqual([]);
    expect(srv.server.transport.limits.stats().refusals.forbidden_origin).toBeGreaterThan(0);
  });

  test('an HTTP call that cannot reach the server fails with UNAVAILABLE naming the URL and the likely causes', async () => {
    const port = await closedPort();
    await using client = createTracewireClient({
      url: `http://127.0.0.1:${port}`,
      token: 't',
      WebSocket,
      connectTimeoutMs: 60_000,
    });
    const result = await outcomeWithin(client.trpc.chat.createThread.mutate({}), 5_000);
    expect(isConnectionUnavailable(result.error)).toBe(true);
    const info = getErrorInfo(result.error);
    expect(info).toMatchObject({ appCode: 'UNAVAILABLE', fromServer: false });
    expect(info.message).toMatch(
      new RegExp(`could not reach http://127\\.0\\.0\\.1:${port}/trpc .*Likely causes`),
    );
  });
});
