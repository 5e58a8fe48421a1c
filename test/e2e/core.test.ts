import { TRPCClientError } from '@trpc/client';
import {
  CLOSE_CODES,
  createClientMessageId,
  isTerminalEvent,
  type AgentEvent,
} from '@tracewire/shared';
import { describe, expect, onTestFinished, test } from 'vitest';
import { collectUntil, sendAndCollect, type Received } from '../helpers/collect.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { plainClientCloseCode } from '../helpers/rawWs.js';
import { errorOf } from '../helpers/errors.js';
import { TEST_BACKENDS, startTestServer } from '../helpers/server.js';

const agentEvents = (all: Received[]): AgentEvent[] =>
  all
    .map((r) => r.data)
    .filter((e): e is AgentEvent => e.type !== 'stream_position' && e.type !== 'resync');

function expectWellFormedRun(events: AgentEvent[]): void {
  expect(events[0]?.type).toBe('agent_started');
  const terminals = events.filter((e) => isTerminalEvent(e));
  expect(terminals).toHaveLength(1);
  expect(isTerminalEvent(events.at(-1)!)).toBe(true);
  for (let i = 1; i < events.length; i++) expect(events[i]!.seq).toBe(events[i - 1]!.seq + 1);
}

describe.each(TEST_BACKENDS)('on the %s back ends', (backend) => {
  describe.each(['ws', 'http+sse'] as const)(
    'a chat turn over %s with a plain @trpc/client',
    (transport) => {
      test('streams the run in order and history returns the same messages', async () => {
        await using srv = await startTestServer({ backend });
        await using client = createPlainClient({
          url: srv.url,
          token: await srv.tokenFor('alice'),
          transport,
        });
        const thread = await client.trpc.chat.createThread.mutate({ title: 'first' });
        const { received: all, runId } = await sendAndCollect(client.trpc, {
          threadId: thread.id,
          content: 'what is 6*7?',
          clientMessageId: createClientMessageId(),
        });
        const run = { id: runId };
        expect(all[0]?.data.type).toBe('stream_position');
        const events = agentEvents(all);
        expectWellFormedRun(events);
        expect(events.every((e) => e.runId === run.id && e.threadId === thread.id)).toBe(true);
        for (const r of all) {
          if (r.data.type === 'stream_position' || r.data.type === 'resync') continue;
          expect(r.id).toBe(`${r.data.epoch}:${r.data.seq}`);
        }
        const types = new Set(events.map((e) => e.type));
        expect(types).toContain('agent_thinking');
        expect(types).toContain('tool_executing');
        expect(types).toContain('tool_completed');
        expect(types).toContain('message_delta');
        const completed = events.at(-1)!;
        expect(completed.type).toBe('agent_completed');
        const answer = events
          .flatMap((e) => (e.type === 'message_delta' ? [e.delta] : []))
          .join('');
        if (completed.type === 'agent_completed') expect(completed.message.content).toBe(answer);

        const history = await client.trpc.chat.history.query({ threadId: thread.id });
        expect(history.items.map((m) => m.role)).toEqual(['user', 'assistant']);
        expect(history.items[0]!.runId).toBe(runId);
        expect(history.items[1]!.content).toBe(answer);
        expect(history.lastEventId).toBe(all.at(-1)!.id);
        const finished = await client.trpc.agent.run.query({ runId: run.id });
        expect(finished.status).toBe('completed');
        expect(finished.startedAt).toBeInstanceOf(Date);
      });

      test('a retried send with one clientMessageId gives one message and one run', async () => {
        await using srv = await startTestServer({ backend });
        await using client = createPlainClient({
          url: srv.url,
          token: await srv.tokenFor('alice'),
          transport,
        });
        const thread = await client.trpc.chat.createThread.mutate({});
        const input = {
          threadId: thread.id,
          content: 'hello',
          clientMessageId: createClientMessageId(),
        };
        const [a, b] = await Promise.all([
          client.trpc.chat.send.mutate(input),
          client.trpc.chat.send.mutate(input),
        ]);
        const c = await client.trpc.chat.send.mutate(input);
        expect(b.message.id).toBe(a.message.id);
        expect(c.run.id).toBe(a.run.id);
        await waitForRunEnd(() => client.trpc.agent.run.query({ runId: a.run.id }));
        const history = await client.trpc.chat.history.query({ threadId: thread.id });
        expect(history.items.filter((m) => m.role === 'user')).toHaveLength(1);
        expect(history.items.filter((m) => m.role === 'assistant')).toHaveLength(1);
      });

      test('chat.cancel ends a run with CANCELLED', async () => {
        await using srv = await startTestServer({ backend });
        await using client = createPlainClient({
          url: srv.url,
          token: await srv.tokenFor('alice'),
          transport,
        });
        const thread = await client.trpc.chat.createThread.mutate({});
        let cancelled = false;
        const { received, runId } = await sendAndCollect(
          client.trpc,
          {
            threadId: thread.id,
            content: 'slow-run please',
            clientMessageId: createClientMessageId(),
          },
          {
            onEvent: (e) => {
              if (e.type === 'agent_started' && !cancelled) {
                cancelled = true;
                void client.trpc.chat.cancel.mutate({ runId: e.runId });
              }
            },
          },
        );
        const run = { id: runId };
        const events = agentEvents(received);
        expectWellFormedRun(events);
        const last = events.at(-1)!;
        expect(last.type === 'agent_error' && last.code).toBe('CANCELLED');
        expect((await client.trpc.agent.run.query({ runId: run.id })).status).toBe('cancelled');
      });

      test('errors carry the code, the zod issues and the request id', async () => {
        await using srv = await startTestServer({ backend });
        await using alice = createPlainClient({
          url: srv.url,
          token: await srv.tokenFor('alice'),
          transport,
        });
        await using bob = createPlainClient({
          url: srv.url,
          token: await srv.tokenFor('bob'),
          transport,
        });

        const bad = await errorOf(
          alice.trpc.chat.send.mutate({ threadId: 'nope', content: '', clientMessageId: 'x' }),
        );
        expect(bad.data?.code).toBe('BAD_REQUEST');
        expect(bad.data?.appCode).toBe('BAD_REQUEST');
        expect(Object.keys(bad.data?.zodError?.fieldErrors ?? {})).toEqual(
          expect.arrayContaining(['threadId', 'content', 'clientMessageId']),
        );
        expect(bad.data?.requestId).toMatch(/\S/);

        const withId = await errorOf(
          alice.trpc.agent.run.query({
            runId: 'run_0000000000000000000000000a',
            _meta: { requestId: 'req-abc-123' },
          } as never),
        );
        expect(withId.data?.code).toBe('NOT_FOUND');
        expect(withId.data?.requestId).toBe('req-abc-123');

        if (transport === 'ws') {
          // WS authenticates the connection: without a valid token it is closed with 4001.
          expect(await plainClientCloseCode(srv.wsUrl)).toBe(CLOSE_CODES.UNAUTHORIZED);
          expect(await plainClientCloseCode(srv.wsUrl, 'not-a-jwt')).toBe(CLOSE_CODES.UNAUTHORIZED);
        } else {
          await using anonymous = createPlainClient({ url: srv.url, transport });
          await using forged = createPlainClient({ url: srv.url, token: 'not-a-jwt', transport });
          const noToken = await errorOf(anonymous.trpc.chat.createThread.mutate({}));
          expect(noToken.data?.code).toBe('UNAUTHORIZED');
          expect(noToken.data?.requestId).toMatch(/\S/);
          const badToken = await errorOf(forged.trpc.chat.listThreads.query({}));
          expect(badToken.data?.code).toBe('UNAUTHORIZED');
        }

        const thread = await alice.trpc.chat.createThread.mutate({});
        const { run } = await alice.trpc.chat.send.mutate({
          threadId: thread.id,
          content: 'hi',
          clientMessageId: createClientMessageId(),
        });
        const notFound = [
          bob.trpc.chat.history.query({ threadId: thread.id }),
          bob.trpc.chat.send.mutate({
            threadId: thread.id,
            content: 'x',
            clientMessageId: createClientMessageId(),
          }),
          bob.trpc.chat.cancel.mutate({ runId: run.id }),
          bob.trpc.agent.run.query({ runId: run.id }),
        ];
        for (const e of await Promise.all(notFound.map((p) => errorOf(p)))) {
          expect(e.data?.code).toBe('NOT_FOUND');
          expect(e.data?.requestId).toMatch(/\S/);
        }
        const subErr = await new Promise<unknown>((resolve) => {
          const sub = bob.trpc.agent.events.subscribe(
            { threadId: thread.id },
            {
              onData: () => resolve(new Error('bob received an event')),
              onError: (e) => {
                sub.unsubscribe();
                resolve(e);
              },
            },
          );
        });
        expect(subErr).toBeInstanceOf(TRPCClientError);
        expect((subErr as TRPCClientError<never>).data).toMatchObject({ code: 'NOT_FOUND' });
        expect((await bob.trpc.chat.listThreads.query({})).items).toHaveLength(0);
      });
    },
  );

  async function waitForRunEnd(get: () => Promise<{ status: string }>): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const run = await get();
      if (run.status !== 'queued' && run.status !== 'running') return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('run did not end');
  }

  test('a disconnect does not cancel a run, and a resubscribe resumes exactly after lastEventId', async () => {
    await using srv = await startTestServer({ backend, env: { TRACEWIRE_AGENT_PACE_MS: '20' } });
    const token = await srv.tokenFor('alice');
    await using first = createPlainClient({ url: srv.url, token, transport: 'ws' });
    const thread = await first.trpc.chat.createThread.mutate({});
    let seen = 0;
    const partial = collectUntil(
      (h) => first.trpc.agent.events.subscribe({ threadId: thread.id }, h),
      (e) => e.type !== 'stream_position' && ++seen === 3,
    );
    await new Promise((r) => setTimeout(r, 100));
    const { run } = await first.trpc.chat.send.mutate({
      threadId: thread.id,
      content: 'what is 2+2?',
      clientMessageId: createClientMessageId(),
    });
    const before = await partial;
    await first.close();
    await new Promise((r) => setTimeout(r, 150));
    await using second = createPlainClient({ url: srv.url, token, transport: 'ws' });
    const rest = await collectUntil(
      (h) =>
        second.trpc.agent.events.subscribe(
          { threadId: thread.id, lastEventId: before.at(-1)!.id },
          h,
        ),
      (e) => isTerminalEvent(e),
    );
    const events = agentEvents([...before, ...rest]);
    expectWellFormedRun(events);
    expect(events.at(-1)!.type).toBe('agent_completed');
    expect((await second.trpc.agent.run.query({ runId: run.id })).status).toBe('completed');
  });

  test('history and the event log survive a restart on the same store and log, and clients resume', async () => {
    const srv1 = await startTestServer({ backend, keepData: true });
    onTestFinished(() => srv1.removeData());
    const token = await srv1.tokenFor('alice');
    const c1 = createPlainClient({ url: srv1.url, token, transport: 'ws' });
    const thread = await c1.trpc.chat.createThread.mutate({ title: 'persist' });
    const { received: firstRun, runId } = await sendAndCollect(c1.trpc, {
      threadId: thread.id,
      content: '1+1',
      clientMessageId: createClientMessageId(),
    });
    const h1 = await c1.trpc.chat.history.query({ threadId: thread.id });
    await c1.close();
    await srv1.stop();

    await using srv2 = await startTestServer({ reuse: srv1 });
    await using c2 = createPlainClient({
      url: srv2.url,
      token: await srv2.tokenFor('alice'),
      transport: 'ws',
    });
    const h2 = await c2.trpc.chat.history.query({ threadId: thread.id });
    expect(h2.items).toEqual(h1.items);
    expect(h2.lastEventId).toBe(h1.lastEventId);
    // Resume from the middle of the first run: exactly the rest, in order.
    const middle = firstRun[Math.floor(firstRun.length / 2)]!;
    const expected = firstRun.slice(firstRun.indexOf(middle) + 1);
    const replay = await collectUntil(
      (h) => c2.trpc.agent.events.subscribe({ threadId: thread.id, lastEventId: middle.id }, h),
      (_e, all) => all.length === expected.length,
    );
    expect(replay.map((r) => r.id)).toEqual(expected.map((r) => r.id));
    expect((await c2.trpc.agent.run.query({ runId: runId })).status).toBe('completed');
    expect((await c2.trpc.chat.listThreads.query({})).items.map((t) => t.id)).toEqual([thread.id]);
  });

  test('a retried send is answered even when the user is at the concurrent-run limit', async () => {
    await using srv = await startTestServer({
      backend,
      env: { TRACEWIRE_MAX_CONCURRENT_RUNS_PER_USER: '1' },
    });
    await using client = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('alice'),
      transport: 'http+sse',
    });
    const thread = await client.trpc.chat.createThread.mutate({});
    const input = {
      threadId: thread.id,
      content: 'slow-run now',
      clientMessageId: createClientMessageId(),
    };
    const first = await client.trpc.chat.send.mutate(input);
    const retry = await client.trpc.chat.send.mutate(input);
    expect(retry.run.id).toBe(first.run.id);
    const other = await errorOf(
      client.trpc.chat.send.mutate({
        ...input,
        content: 'another',
        clientMessageId: createClientMessageId(),
      }),
    );
    expect(other.data?.code).toBe('TOO_MANY_REQUESTS');
    await client.trpc.chat.cancel.mutate({ runId: first.run.id });
  });
});
