import { SpanKind } from '@opentelemetry/api';
import { createTracewireClient } from '@tracewire/client';
import { startTelemetry } from '@tracewire/otel';
import {
  createToolLoopResponder,
  startScriptedLlmServer,
  type ScriptedLlmServer,
} from '@tracewire/server/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import {
  otlpAttr,
  startOtlpReceiver,
  type OtlpReceiver,
  type OtlpSpan,
} from '../../otel/src/__tests__/otlpReceiver.js';
import { startTestServer } from '../helpers/server.js';

const CLIENT = SpanKind.CLIENT + 1; // OTLP's kind enum is the API's + 1
const ANSWER = 'The answer is 11. Anything else?';

let receiver: OtlpReceiver;
let telemetry: ReturnType<typeof startTelemetry>;
let llm: ScriptedLlmServer;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  telemetry = startTelemetry({
    serviceName: 'tracewire',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
  });
  llm = await startScriptedLlmServer({ responder: createToolLoopResponder() });
});

afterAll(async () => {
  await llm?.close();
  await telemetry?.shutdown();
  await receiver?.[Symbol.asyncDispose]();
});

/** One turn with the llm agent on a fresh server; returns the run's `invoke_agent` trace. */
async function tracedTurn(env: Record<string, string> = {}) {
  await using srv = await startTestServer({
    env: {
      TRACEWIRE_LLM_BASE_URL: llm.baseUrl,
      TRACEWIRE_LLM_MODEL: 'scripted-model',
      TRACEWIRE_LLM_MAX_TOKENS: '512',
      TRACEWIRE_LLM_TEMPERATURE: '0.2',
      ...env,
    },
    overrides: {
      meterProvider: telemetry.meterProvider,
      renderMetrics: () => telemetry.renderMetrics(),
    },
  });
  await using client = createTracewireClient({
    url: srv.url,
    token: await srv.tokenFor('tess'),
    WebSocket,
    tracing: false,
  });
  const thread = await client.trpc.chat.createThread.mutate({});
  const stream = client.streamRun(thread.id, 'what is 2 + 3 * (4 - 1)?');
  const received = [];
  for await (const e of stream) received.push(e);
  expect(received.at(-1)).toMatchObject({ type: 'agent_completed', message: { content: ANSWER } });
  const { run } = await stream.sent;
  let spans: OtlpSpan[] = [];
  let agent: OtlpSpan | undefined;
  for (let i = 0; i < 50; i++) {
    await telemetry.forceFlush();
    spans = receiver.spans();
    agent = spans.find(
      (s) => s.name === 'invoke_agent llm' && otlpAttr(s, 'tracewire.run.id') === run.id,
    );
    const chats = spans.filter(
      (s) => s.name === 'chat scripted-model' && s.parentSpanId === agent?.spanId,
    );
    if (chats.length === 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(agent, 'invoke_agent llm span').toBeDefined();
  const children = spans.filter((s) => s.parentSpanId === agent!.spanId);
  const metrics = await telemetry.renderMetrics();
  return { children, spans, agent: agent!, metrics };
}

test('each model call is a chat {model} CLIENT span under invoke_agent with the GenAI attributes', async () => {
  const before = llm.requests.length;
  const { children, spans } = await tracedTurn();
  // TRACEWIRE_LLM_MAX_TOKENS and TRACEWIRE_LLM_TEMPERATURE reach the endpoint too.
  expect(llm.requests[before]!.body).toMatchObject({ max_tokens: 512, temperature: 0.2 });
  const chats = children.filter((s) => s.name === 'chat scripted-model');
  expect(chats).toHaveLength(2);
  for (const chat of chats) {
    expect(chat.kind).toBe(CLIENT);
    expect(otlpAttr(chat, 'gen_ai.operation.name')).toBe('chat');
    expect(otlpAttr(chat, 'gen_ai.provider.name')).toBe('openai');
    expect(otlpAttr(chat, 'gen_ai.request.model')).toBe('scripted-model');
    expect(otlpAttr(chat, 'gen_ai.response.model')).toBe('scripted-model');
    expect(otlpAttr(chat, 'gen_ai.response.id')).toBe('chatcmpl-scripted');
    expect(Number(otlpAttr(chat, 'gen_ai.request.max_tokens'))).toBe(512);
    expect(otlpAttr(chat, 'gen_ai.request.temperature')).toBe(0.2);
    expect(otlpAttr(chat, 'server.address')).toBe('127.0.0.1');
    // Content is off by default.
    expect(otlpAttr(chat, 'gen_ai.input.messages')).toBeUndefined();
    expect(otlpAttr(chat, 'gen_ai.output.messages')).toBeUndefined();
  }
  const finish = chats.map(
    (c) =>
      c.attributes?.find((a) => a.key === 'gen_ai.response.finish_reasons')?.value as {
        arrayValue?: { values: Array<{ stringValue: string }> };
      },
  );
  expect(finish.map((f) => f.arrayValue?.values.map((v) => v.stringValue))).toEqual([
    ['tool_calls'],
    ['stop'],
  ]);
  expect(
    chats.map((c) => [
      Number(otlpAttr(c, 'gen_ai.usage.input_tokens')),
      Number(otlpAttr(c, 'gen_ai.usage.output_tokens')),
    ]),
  ).toEqual([
    [30, 12],
    [20, 8],
  ]);
  // The tool runs under the agent, between the two model calls; the answer's events under the second.
  expect(children.map((s) => s.name)).toContain('execute_tool calculator');
  const answerEvents = spans.filter(
    (s) =>
      s.parentSpanId === chats[1]!.spanId &&
      otlpAttr(s, 'tracewire.event.type') === 'message_delta',
  );
  expect(answerEvents.length).toBeGreaterThan(0);
});

test('the GenAI client metrics count tokens and time each call', async () => {
  const { metrics } = await tracedTurn();
  const line = (name: string, labels: RegExp) =>
    metrics.split('\n').find((l) => l.startsWith(name) && labels.test(l));
  expect(line('gen_ai_client_token_usage', /_sum\{.*gen_ai_token_type="input"/)).toMatch(/ \d+$/);
  expect(line('gen_ai_client_token_usage', /_sum\{.*gen_ai_token_type="output"/)).toMatch(/ \d+$/);
  expect(
    line('gen_ai_client_operation_duration', /_count\{.*gen_ai_request_model="scripted-model"/),
  ).toMatch(/ [1-9]\d*$/);
});

test('prompt and completion text is recorded on the spans only when enabled', async () => {
  const { children } = await tracedTurn({ TRACEWIRE_LLM_RECORD_CONTENT: 'true' });
  const chats = children.filter((s) => s.name === 'chat scripted-model');
  const input = JSON.parse(String(otlpAttr(chats[0], 'gen_ai.input.messages'))) as Array<{
    role: string;
    content: string;
  }>;
  expect(input.at(-1)).toEqual({ role: 'user', content: 'what is 2 + 3 * (4 - 1)?' });
  const output = JSON.parse(String(otlpAttr(chats[1], 'gen_ai.output.messages'))) as Array<{
    content: string;
  }>;
  expect(output[0]!.content).toBe(ANSWER);
});
