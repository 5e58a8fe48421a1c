import { createClientMessageId, CLOSE_CODES } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { startChildServer, type ChildServer } from '../helpers/childServer.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { openRawSocket, type RawSocket } from '../helpers/rawWs.js';

/**
 * Issue 28, item 5 (WebSocket half), measured from outside: a server in its own process, a
 * thread whose history is large, and clients that ask for it in batches, one of them without
 * reading what it is sent. Query and mutation responses are bounded per connection.
 */

const MB = 1024 * 1024;
const wsUrlOf = (srv: ChildServer) => `${srv.url.replace(/^http/, 'ws')}/trpc`;
/** About 30 KB of words (no arithmetic, so the demo agent only counts and echoes). */
const BIG_MESSAGE = 'lorem ipsum dolor sit amet '.repeat(1_100).trim();

/** A thread holding `messages` user messages of ~30 KB, each answered by the demo agent. */
async function bigThread(srv: ChildServer, messages: number): Promise<string> {
  await using c = createPlainClient({
    url: srv.url,
    token: await srv.tokenFor('reader'),
    transport: 'http+sse',
  });
  const thread = await c.trpc.chat.createThread.mutate({ title: 'big' });
  for (let i = 0; i < messages; i++) {
    const { run } = await c.trpc.chat.send.mutate({
      threadId: thread.id,
      content: BIG_MESSAGE,
      clientMessageId: createClientMessageId(),
    });
    for (;;) {
      const r = await c.trpc.agent.run.query({ runId: run.id });
      if (r.status !== 'queued' && r.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 20));
    }
  }
  return thread.id;
}

const historyBatch = (from: number, n: number, threadId: string) =>
  Array.from({ length: n }, (_, i) => ({
    id: from + i,
    method: 'query',
    params: { path: 'chat.history', input: { json: { threadId, limit: 100 } } },
  }));

interface Frame {
  id?: number;
  result?: { type: string };
  error?: { json: { message: string; data: { code: string } } };
}

const SERVER_ENV = {
  TRACEWIRE_AGENT_PACE_MS: '0',
  TRACEWIRE_SLOW_CONSUMER_TIMEOUT_MS: '2000',
  TRACEWIRE_MUTATION_BURST: '200',
};

describe('query and mutation responses over WebSocket', () => {
  test('a batch whose answers pass the response budget gets data, then a clear PAYLOAD_TOO_LARGE error for the rest; the socket stays usable', async () => {
    // A budget of 2 MiB (the default is 4 MiB): about five answers of ~380 KB fit.
    await using srv = await startChildServer({
      env: { ...SERVER_ENV, TRACEWIRE_WS_RESPONSE_BUDGET_BYTES: '2097152' },
    });
    const threadId = await bigThread(srv, 12);
    await using raw: RawSocket = await openRawSocket(wsUrlOf(srv), {
      token: await srv.tokenFor('reader'),
    });
    raw.send(historyBatch(1, 50, threadId));
    const answered = (id: number) => (f: unknown) => (f as Frame).id === id;
    for (let id = 1; id <= 50; id++) await raw.waitFor(answered(id), 20_000);
    const frames = raw.frames as Frame[];
    const data = frames.filter((f) => f.result?.type === 'data');
    const refused = frames.filter((f) => f.error);
    console.log(`batch of 50 × chat.history: ${data.length} answered, ${refused.length} refused`);
    expect(data.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    // What was answered fits the budget (with the last answer that passed it at most).
    const answeredBytes = raw.texts
      .filter((t) => t.includes('"result"'))
      .reduce((n, t) => n + Buffer.byteLength(t), 0);
    expect(answeredBytes).toBeLessThan(2_097_152 + 1_000_000);
    // The answered calls come first, the refused ones after them.
    const ids = frames.map((f) => f.id!);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(Math.max(...data.map((f) => f.id!))).toBeLessThan(
      Math.min(...refused.map((f) => f.id!)),
    );
    for (const f of refused) {
      expect(f.error?.json.data.code).toBe('PAYLOAD_TOO_LARGE');
      expect(f.error?.json.message).toMatch(/response budget/);
    }
    // Every call got exactly one answer.
    expect(new Set(frames.map((f) => f.id)).size).toBe(frames.length);
    raw.send({
      id: 99,
      method: 'query',
      params: { path: 'chat.listThreads', input: { json: {} } },
    });
    expect(await raw.waitFor(answered(99))).toMatchObject({ result: { type: 'data' } });
  }, 60_000);

  test('a client that stops reading and keeps sending batches is closed SLOW_CONSUMER (4008) and the server stays small', async () => {
    await using srv = await startChildServer({ env: SERVER_ENV });
    const threadId = await bigThread(srv, 12);
    await using raw: RawSocket = await openRawSocket(wsUrlOf(srv), {
      token: await srv.tokenFor('reader'),
    });
    raw.ws.pause(); // the client reads nothing from now on
    const before = srv.rssBytes();
    let peak = before;
    let next = 1;
    let closed: { code: number } | null = null;
    void raw.closed.then((c) => (closed = c));
    const started = Date.now();
    // Ten batches a second (well within the frame budget) for 3 s.
    while (closed === null && Date.now() - started < 3_000) {
      if (raw.ws.bufferedAmount < MB) {
        raw.send(historyBatch(next, 50, threadId));
        next += 50;
      }
      await new Promise((r) => setTimeout(r, 100));
      peak = Math.max(peak, srv.rssBytes());
      // Far past any bound: stop before the machine suffers (the test fails below).
      if (peak - before > 400 * MB) break;
    }
    const elapsed = Date.now() - started;
    // The client reads again: it gets what was queued for it, then the close frame.
    raw.ws.resume();
    const code =
      closed ??
      (await Promise.race([
        raw.closed,
        new Promise<null>((r) => setTimeout(() => r(null), 10_000)),
      ]));
    console.log(
      `paused reader: ${next - 1} calls sent in ${elapsed} ms; RSS ${(before / MB).toFixed(0)} -> ` +
        `peak ${(peak / MB).toFixed(0)} MB; closed ${JSON.stringify(code)}`,
    );
    expect(code).toMatchObject({ code: CLOSE_CODES.SLOW_CONSUMER });
    expect((peak - before) / MB).toBeLessThan(96);
  }, 60_000);
});
