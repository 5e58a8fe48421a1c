import { Readable } from 'node:stream';
import { EventSource } from 'eventsource';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { startTestServer } from '../../test/helpers/server.js';
import { startTcpProxy } from './__tests__/tcpProxy.js';
import { runChat } from './cli/runChat.js';
import { createTracewireClient, type TracewireClientOptions } from './client.js';
import { getErrorInfo, isTracewireError } from './errors.js';
import type { ThreadEvent } from './types.js';

const clientFor = (url: string, token: string, extra: Partial<TracewireClientOptions> = {}) =>
  createTracewireClient({
    url,
    token,
    WebSocket,
    EventSource,
    retry: { baseMs: 20, maxMs: 200 },
    ...extra,
  });

/** Asserts the shape every run must have: started first, one terminal last, seq +1 each. */
function expectCompleteRun(events: ThreadEvent[]) {
  const agentEvents = events.filter((e) => e.type !== 'resync');
  expect(agentEvents[0]?.type).toBe('agent_started');
  expect(agentEvents.at(-1)?.type).toBe('agent_completed');
  expect(
    agentEvents.filter((e) => e.type === 'agent_completed' || e.type === 'agent_error'),
  ).toHaveLength(1);
  const seqs = agentEvents.map((e) => ('seq' in e ? e.seq : -1));
  seqs.forEach((s, i) => i > 0 && expect(s).toBe(seqs[i - 1]! + 1));
  for (const e of events) expect('_meta' in e).toBe(false);
}

describe.each(['ws+http', 'ws', 'http+sse'] as const)('over %s', (transport) => {
  test('streamRun yields one run from agent_started to agent_completed, and history has it', async () => {
    await using server = await startTestServer();
    await using client = clientFor(server.url, await server.tokenFor('alice'), { transport });
    const thread = await client.trpc.chat.createThread.mutate({ title: 'sdk' });
    const run = client.streamRun(thread.id, 'what is 2 + 3 * 4?');
    const events: ThreadEvent[] = [];
    for await (const e of run) events.push(e);
    expectCompleteRun(events);
    const { run: sentRun, message } = await run.sent;
    expect(events.every((e) => e.type === 'resync' || e.runId === sentRun.id)).toBe(true);
    const answer = events.flatMap((e) => (e.type === 'message_delta' ? [e.delta] : [])).join('');
    const completed = events.at(-1);
    expect(completed?.type === 'agent_completed' && completed.message.content).toBe(answer);
    expect(events.some((e) => e.type === 'tool_completed' && e.tool === 'calculator' && e.ok)).toBe(
      true,
    );
    const history = await client.trpc.chat.history.query({ threadId: thread.id });
    expect(history.items.map((m) => m.id)).toContain(message.id);
    expect(history.items.map((m) => m.role)).toEqual(['user', 'assistant']);
  });
});

describe('resume and retries', () => {
  test.each(['ws+http', 'ws', 'http+sse'] as const)(
    'over %s, connections cut mid-run are resumed: every event exactly once, in order',
    async (transport) => {
      await using server = await startTestServer({ env: { TRACEWIRE_AGENT_PACE_MS: '30' } });
      await using proxy = await startTcpProxy(server.url);
      const token = await server.tokenFor('bob');
      let tokenCalls = 0;
      const states: string[] = [];
      await using client = clientFor(proxy.url, token, {
        transport,
        token: undefined,
        getToken: () => {
          tokenCalls++;
          return token;
        },
        onConnectionStateChange: (s) => states.push(s.state),
      });
      const thread = await client.trpc.chat.createThread.mutate({});
      const callsBefore = tokenCalls;
      const run = client.streamRun(thread.id, 'what is 6 * 7? tell me the time too');
      const events: ThreadEvent[] = [];
      let cuts = 0;
      for await (const e of run) {
        events.push(e);
        if (events.length === 2 || events.length === 5) cuts += proxy.cutAll();
      }
      expect(cuts).toBeGreaterThan(0);
      expectCompleteRun(events);
      // Every new connection asked for a (possibly refreshed) token.
      expect(tokenCalls).toBeGreaterThan(callsBefore + 1);
      expect(proxy.accepted).toBeGreaterThan(2);
      if (transport !== 'http+sse') {
        expect(client.stats.reconnects).toBeGreaterThanOrEqual(1);
        expect(states).toContain('connecting');
        expect(states.at(-1)).toBe('pending');
      }
    },
  );

  test('a send whose answer was lost with the socket is retried with the same clientMessageId: one message, one run', async () => {
    await using server = await startTestServer();
    await using proxy = await startTcpProxy(server.url);
    await using client = clientFor(proxy.url, await server.tokenFor('carol'), { transport: 'ws' });
    const thread = await client.trpc.chat.createThread.mutate({});
    const clientMessageId = 'retry-test-0001';
    let dropped = 0;
    proxy.onServerChunk = (chunk) => {
      // Cut the connection instead of delivering the server's answer to chat.send.
      if (dropped === 0 && chunk.includes(`"clientMessageId":"${clientMessageId}"`)) {
        dropped++;
        return true;
      }
      return false;
    };
    const result = await client.send(thread.id, 'hello', { clientMessageId });
    expect(dropped).toBe(1);
    expect(result.clientMessageId).toBe(clientMessageId);
    proxy.onServerChunk = null;
    const history = await client.trpc.chat.history.query({ threadId: thread.id });
    const userMessages = history.items.filter((m) => m.role === 'user');
    expect(userMessages.map((m) => m.id)).toEqual([result.message.id]);
  });

  test('events() resumes from a lastEventId taken from chat.history without a gap or a double', async () => {
    await using server = await startTestServer();
    await using client = clientFor(server.url, await server.tokenFor('dave'));
    const thread = await client.trpc.chat.createThread.mutate({});
    const first: ThreadEvent[] = [];
    for await (const e of client.streamRun(thread.id, 'first')) first.push(e);
    const { lastEventId } = await client.trpc.chat.history.query({ threadId: thread.id });
    const ac = new AbortController();
    const stream = client.events(thread.id, { lastEventId, signal: ac.signal });
    const sent = await client.send(thread.id, 'second');
    const second: ThreadEvent[] = [];
    for await (const e of stream) {
      second.push(e);
      if (e.type === 'agent_completed') ac.abort();
    }
    expectCompleteRun(second);
    expect(second.every((e) => e.type !== 'resync' && e.runId === sent.run.id)).toBe(true);
    const lastFirst = first.at(-1);
    const firstSecond = second[0];
    expect(
      firstSecond &&
        'seq' in firstSecond &&
        lastFirst &&
        'seq' in lastFirst &&
        firstSecond.seq - lastFirst.seq,
    ).toBe(1);
    expect(stream.stats.duplicatesDropped).toBe(0);
  });
});

describe('errors', () => {
  test('a bad token is UNAUTHORIZED with a request id, on HTTP', async () => {
    await using server = await startTestServer();
    await using client = clientFor(server.url, 'not-a-jwt');
    const error = await client.trpc.chat.listThreads.query({}).catch((e: unknown) => e);
    expect(isTracewireError(error)).toBe(true);
    expect(getErrorInfo(error)).toMatchObject({ appCode: 'UNAUTHORIZED', fromServer: true });
    expect(getErrorInfo(error).requestId).toEqual(expect.any(String));
  });

  test("events() on another user's thread ends with NOT_FOUND instead of retrying forever", async () => {
    await using server = await startTestServer();
    await using owner = clientFor(server.url, await server.tokenFor('erin'));
    await using other = clientFor(server.url, await server.tokenFor('mallory'));
    const thread = await owner.trpc.chat.createThread.mutate({});
    const error = await (async () => {
      for await (const _ of other.events(thread.id)) {
        // no events expected
      }
    })().catch((e: unknown) => e);
    expect(getErrorInfo(error).appCode).toBe('NOT_FOUND');
  });

  test('a wrong input is BAD_REQUEST with the zod issues', async () => {
    await using server = await startTestServer();
    await using client = clientFor(server.url, await server.tokenFor('frank'));
    const thread = await client.trpc.chat.createThread.mutate({});
    const error = await client.send(thread.id, '').catch((e: unknown) => e);
    const info = getErrorInfo(error);
    expect(info.appCode).toBe('BAD_REQUEST');
    expect(info.zodError?.fieldErrors['content']?.length).toBeGreaterThan(0);
  });
});

describe('terminal chat', () => {
  test('piped lines are sent one by one and rendered until EOF', async () => {
    await using server = await startTestServer();
    await using client = clientFor(server.url, await server.tokenFor('gina'));
    let out = '';
    const summary = await runChat({
      client,
      lines: Readable.from(['what is 1 + 2?', '', 'hello there']),
      write: (t) => (out += t),
      color: false,
    });
    expect(summary).toMatchObject({ runs: 2, failures: 0 });
    expect(out).toMatch(/^thread thr_/);
    expect(out).toContain('thinking: ');
    expect(out).toMatch(/-> calculator\(/);
    expect(out).toMatch(/<- calculator: /);
    expect(out).not.toContain('\x1b[');
    const history = await client.trpc.chat.history.query({ threadId: summary.threadId });
    const lastAnswer = history.items.at(-1)?.content ?? '';
    expect(lastAnswer.length).toBeGreaterThan(0);
    expect(out).toContain(lastAnswer);
  });
});
