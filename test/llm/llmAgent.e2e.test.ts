import { createTracewireClient } from '@tracewire/client';
import {
  createToolLoopResponder,
  startScriptedLlmServer,
  type ScriptedLlmServer,
} from '@tracewire/server/testing';
import { createClientMessageId, type AgentEvent } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { startChildServer } from '../helpers/childServer.js';
import { sendAndCollect } from '../helpers/collect.js';
import { errorOf } from '../helpers/errors.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { startTestServer } from '../helpers/server.js';

const KEY = 'sk-e2e-secret-key-0123456789abcdef';
const ANSWER = 'The answer is 11. Anything else?';

/** The LLM settings pointing the server at `llm`. */
const llmEnv = (llm: ScriptedLlmServer, extra: Record<string, string> = {}) => ({
  TRACEWIRE_LLM_BASE_URL: llm.baseUrl,
  TRACEWIRE_LLM_MODEL: 'scripted-model',
  TRACEWIRE_LLM_API_KEY: KEY,
  ...extra,
});

/** Answers turns with the tool loop, except `auth please`, which gets a 401 echoing the key. */
async function startEndpoint(): Promise<ScriptedLlmServer> {
  const loop = createToolLoopResponder();
  return startScriptedLlmServer({
    responder: (request) => {
      const messages = request.body['messages'] as Array<{ content?: unknown }>;
      if (messages.some((m) => m.content === 'auth please'))
        return {
          status: 401,
          body: JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}` } }),
        };
      return loop(request);
    },
  });
}

const types = (events: readonly { type: string }[]) => events.map((e) => e.type);

describe('npm start with TRACEWIRE_LLM_BASE_URL', () => {
  test('serves the llm agent as the default, keeps demo, and never prints the API key', async () => {
    await using llm = await startEndpoint();
    await using child = await startChildServer({
      env: { ...llmEnv(llm), TRACEWIRE_LOG_LEVEL: 'debug' },
    });
    await using client = createTracewireClient({
      url: child.url,
      token: await child.tokenFor('ada'),
      WebSocket,
    });
    const thread = await client.trpc.chat.createThread.mutate({ title: 'maths' });
    expect(thread.agent).toBe('llm');
    const events: AgentEvent[] = [];
    for await (const e of client.streamRun(thread.id, 'what is 2 + 3 * (4 - 1)?'))
      if (e.type !== 'resync') events.push(e);
    expect(types(events)).toEqual(
      expect.arrayContaining([
        'agent_started',
        'tool_executing',
        'tool_completed',
        'message_delta',
      ]),
    );
    expect(events.at(-1)).toMatchObject({
      type: 'agent_completed',
      message: { role: 'assistant', content: ANSWER },
    });
    expect(events.find((e) => e.type === 'agent_started')).toMatchObject({ agent: 'llm' });
    expect(events.find((e) => e.type === 'tool_completed')).toMatchObject({
      tool: 'calculator',
      ok: true,
      result: { value: 11 },
    });
    const history = await client.trpc.chat.history.query({ threadId: thread.id });
    expect(history.agent).toBe('llm');
    expect(history.items.map((m) => [m.role, m.content])).toEqual([
      ['user', 'what is 2 + 3 * (4 - 1)?'],
      ['assistant', ANSWER],
    ]);
    expect(llm.requests[0]!.headers['authorization']).toBe(`Bearer ${KEY}`);

    // The demo agent stays available per thread.
    const demo = await client.trpc.chat.createThread.mutate({ agent: 'demo' });
    const demoEvents = [];
    for await (const e of client.streamRun(demo.id, 'what is 1+1?')) demoEvents.push(e);
    expect(demoEvents.at(-1)).toMatchObject({ type: 'agent_completed' });
    expect(demoEvents.find((e) => e.type === 'agent_started')).toMatchObject({ agent: 'demo' });
    const requestsBefore = llm.requests.length;
    const listed = await client.trpc.chat.listThreads.query({});
    expect(listed.items.map((t) => [t.id, t.agent])).toEqual([
      [demo.id, 'demo'],
      [thread.id, 'llm'],
    ]);
    expect(llm.requests.length).toBe(requestsBefore);

    // An upstream error that echoes the key: the client and the logs never see it.
    const failing = [];
    for await (const e of client.streamRun(thread.id, 'auth please')) failing.push(e);
    expect(failing.at(-1)).toMatchObject({ type: 'agent_error', code: 'MISCONFIGURED' });
    expect(JSON.stringify(failing)).not.toContain(KEY);
    await child.stop('SIGTERM');
    expect(child.output()).toContain('"level":20'); // debug logging was on
    expect(child.output()).not.toContain(KEY);
  });

  test('refuses to start on a bad LLM setting, naming the variable', async () => {
    await expect(
      startChildServer({ env: { TRACEWIRE_LLM_BASE_URL: 'http://127.0.0.1:9/v1' } }),
    ).rejects.toThrow(/TRACEWIRE_LLM_MODEL: required when TRACEWIRE_LLM_BASE_URL is set/);
    await expect(
      startChildServer({
        env: {
          TRACEWIRE_LLM_BASE_URL: 'http://127.0.0.1:9/v1',
          TRACEWIRE_LLM_MODEL: 'm',
          TRACEWIRE_LLM_TEMPERATURE: 'hot',
          TRACEWIRE_LLM_API_KEY: KEY,
        },
      }),
    ).rejects.toThrow(/TRACEWIRE_LLM_TEMPERATURE/);
    await expect(
      startChildServer({
        env: { TRACEWIRE_LLM_BASE_URL: 'ftp://example/v1', TRACEWIRE_LLM_MODEL: 'm' },
      }),
    ).rejects.toThrow(/TRACEWIRE_LLM_BASE_URL/);
  });
});

describe.each(['ws', 'http+sse'] as const)(
  'the llm agent over %s with a plain @trpc/client',
  (transport) => {
    test('a thread runs its own agent; unknown agents are refused with the known ones named', async () => {
      await using llm = await startEndpoint();
      await using srv = await startTestServer({ env: llmEnv(llm) });
      await using client = createPlainClient({
        url: srv.url,
        token: await srv.tokenFor('bo'),
        transport,
      });
      const bad = await errorOf(client.trpc.chat.createThread.mutate({ agent: 'gpt-9' }));
      expect(bad.data?.code).toBe('BAD_REQUEST');
      expect(bad.message).toBe('Unknown agent "gpt-9"; this server runs: llm, demo');

      const thread = await client.trpc.chat.createThread.mutate({ agent: 'llm' });
      const { received } = await sendAndCollect(client.trpc, {
        threadId: thread.id,
        content: 'compute please',
        clientMessageId: createClientMessageId(),
      });
      const events = received.map((r) => r.data).filter((e) => e.type !== 'stream_position');
      expect(events.at(-1)).toMatchObject({
        type: 'agent_completed',
        message: { content: ANSWER },
      });
      const deltas = events.flatMap((e) => (e.type === 'message_delta' ? [e.delta] : []));
      expect(deltas.join('')).toBe(ANSWER);
      // Seqs are consecutive: nothing lost or doubled on the way.
      for (let i = 1; i < events.length; i++)
        expect((events[i] as AgentEvent).seq).toBe((events[i - 1] as AgentEvent).seq + 1);
    });
  },
);

test('without TRACEWIRE_LLM_BASE_URL the demo agent is the default and llm is unknown', async () => {
  await using srv = await startTestServer();
  await using client = createPlainClient({
    url: srv.url,
    token: await srv.tokenFor('cy'),
    transport: 'ws',
  });
  expect((await client.trpc.chat.createThread.mutate({})).agent).toBe('demo');
  const err = await errorOf(client.trpc.chat.createThread.mutate({ agent: 'llm' }));
  expect(err.message).toBe('Unknown agent "llm"; this server runs: demo');
});
