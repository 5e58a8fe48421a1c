import { createTracewireClient } from '@tracewire/client';
import {
  answerReply,
  startScriptedLlmServer,
  toolCallReply,
  type ScriptedLlmServer,
  type ScriptedReply,
} from '@tracewire/server/testing';
import type { ThreadEvent } from '@tracewire/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The effect of each LLM agent setting, seen from outside: a server configured through the
 * environment (the variables below), a scripted endpoint whose reply depends on the message,
 * and what the endpoint received and the client got. (TRACEWIRE_LLM_BASE_URL, _MODEL and
 * _API_KEY: llmAgent.e2e.test.ts; _MAX_TOKENS, _TEMPERATURE, _RECORD_CONTENT: llmTrace.test.ts.)
 */
const SYSTEM = 'You are terse. Answer in one line.';

/** Replies by the user's message: each test sends its own. */
function reply(content: string): ScriptedReply {
  if (content === 'loop') return toolCallReply({ id: 'c', name: 'clock', args: ['{}'] });
  if (content === 'stall') return { before: 'stall' };
  if (content === 'overloaded') return { status: 503, body: '{"error":{"message":"overloaded"}}' };
  if (content === 'later')
    return { status: 429, headers: { 'retry-after': '5' }, body: '{"error":{"message":"wait"}}' };
  return answerReply(['Fine.']);
}

let llm: ScriptedLlmServer;
let srv: TestServer;

beforeAll(async () => {
  llm = await startScriptedLlmServer({
    responder: (request) => {
      const messages = request.body['messages'] as Array<{ role: string; content: unknown }>;
      const user = messages.filter((m) => m.role === 'user').at(-1);
      return reply(String(user?.content));
    },
  });
  srv = await startTestServer({
    env: {
      TRACEWIRE_LLM_BASE_URL: llm.baseUrl,
      TRACEWIRE_LLM_MODEL: 'scripted-model',
      TRACEWIRE_LLM_MAX_STEPS: '2',
      TRACEWIRE_LLM_TIMEOUT_MS: '300',
      TRACEWIRE_LLM_RETRIES: '1',
      TRACEWIRE_LLM_RETRY_AFTER_MAX_MS: '1000',
      TRACEWIRE_LLM_REQUEST_USAGE: 'false',
      TRACEWIRE_LLM_SYSTEM_PROMPT: SYSTEM,
    },
  });
});

afterAll(async () => {
  await srv?.[Symbol.asyncDispose]();
  await llm?.close();
});

/** One turn on a new thread; returns its events and the requests it made upstream. */
async function turn(content: string) {
  await using client = createTracewireClient({
    url: srv.url,
    token: await srv.tokenFor('cfg'),
    WebSocket,
    tracing: false,
  });
  const before = llm.requests.length;
  const thread = await client.trpc.chat.createThread.mutate({});
  const events: ThreadEvent[] = [];
  for await (const e of client.streamRun(thread.id, content)) events.push(e);
  return { events, end: events.at(-1), requests: llm.requests.slice(before) };
}

describe('LLM settings', () => {
  test('TRACEWIRE_LLM_SYSTEM_PROMPT and TRACEWIRE_LLM_REQUEST_USAGE shape the request', async () => {
    const { end, requests } = await turn('hello');
    expect(end).toMatchObject({ type: 'agent_completed', message: { content: 'Fine.' } });
    const body = requests[0]!.body;
    expect((body['messages'] as unknown[])[0]).toEqual({ role: 'system', content: SYSTEM });
    expect(body['stream_options']).toBeUndefined();
  });

  test('TRACEWIRE_LLM_MAX_STEPS bounds the tool loop', async () => {
    const { end, requests } = await turn('loop');
    expect(end).toMatchObject({ type: 'agent_error', code: 'STEP_LIMIT' });
    expect(requests).toHaveLength(2);
  });

  test('TRACEWIRE_LLM_TIMEOUT_MS and TRACEWIRE_LLM_RETRIES: a silent endpoint gets two attempts of 300 ms', async () => {
    const { end, requests } = await turn('stall');
    expect(end).toMatchObject({ type: 'agent_error', code: 'UPSTREAM_ERROR' });
    expect(end?.type === 'agent_error' && end.message).toMatch(
      /did not start answering within 300 ms \(after 2 attempts\)/,
    );
    expect(requests).toHaveLength(2);
    const overloaded = await turn('overloaded');
    expect(overloaded.requests).toHaveLength(2);
  });

  test('TRACEWIRE_LLM_RETRY_AFTER_MAX_MS: a longer Retry-After ends the run at once', async () => {
    const { end, requests } = await turn('later');
    expect(end).toMatchObject({ type: 'agent_error', code: 'RATE_LIMITED', retryable: true });
    expect(end?.type === 'agent_error' && end.message).toMatch(/wait 5 s, more than the 1000 ms/);
    expect(requests).toHaveLength(1);
  });
});
