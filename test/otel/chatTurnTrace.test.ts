import { Writable } from 'node:stream';
import { SpanKind } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createTracewireClient, getErrorInfo } from '@tracewire/client';
import { startTelemetry } from '@tracewire/otel';
import type { AgentEvent } from '@tracewire/shared';
import { pino } from 'pino';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import {
  otlpAttr,
  startOtlpReceiver,
  type OtlpReceiver,
  type OtlpSpan,
} from '../../otel/src/__tests__/otlpReceiver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** OTLP's kind enum is the API's SpanKind + 1. */
const OTLP = {
  INTERNAL: SpanKind.INTERNAL + 1,
  SERVER: SpanKind.SERVER + 1,
  CLIENT: SpanKind.CLIENT + 1,
  PRODUCER: SpanKind.PRODUCER + 1,
  CONSUMER: SpanKind.CONSUMER + 1,
};

type Span = OtlpSpan & { service: string | undefined };

let receiver: OtlpReceiver;
let telemetry: ReturnType<typeof startTelemetry>;
let clientProvider: BasicTracerProvider;
let srv: TestServer;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // Server side: the real setup, exporting OTLP/HTTP JSON to the loopback receiver.
  telemetry = startTelemetry({
    serviceName: 'tracewire',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
  });
  // Client side: its own provider (an app's), injected into the SDK.
  clientProvider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'tracewire-client' }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` }), {
        scheduledDelayMillis: 100,
      }),
    ],
  });
  let partial = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines)
        if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const { traceLogMixin } = await import('@tracewire/otel');
  srv = await startTestServer({
    logger: pino({ level: 'debug', mixin: traceLogMixin }, sink),
    overrides: {
      meterProvider: telemetry.meterProvider,
      renderMetrics: () => telemetry.renderMetrics(),
    },
  });
});

afterAll(async () => {
  await srv?.[Symbol.asyncDispose]();
  await clientProvider?.shutdown();
  await telemetry?.shutdown();
  await receiver?.[Symbol.asyncDispose]();
});

async function flushedSpans(): Promise<Span[]> {
  await clientProvider.forceFlush();
  await telemetry.forceFlush();
  return receiver.spans();
}

const byId = (spans: Span[]) => new Map(spans.map((s) => [s.spanId, s]));

describe.each(['ws', 'http+sse'] as const)('one chat turn over %s', (transport) => {
  test('is one trace from the SDK call through server, agent and tools to each received event', async () => {
    const token = await srv.tokenFor('alice');
    await using client = createTracewireClient({
      url: srv.url,
      token,
      transport,
      WebSocket,
      EventSource,
      tracing: { tracerProvider: clientProvider },
    });
    const thread = await client.trpc.chat.createThread.mutate({ title: `otel ${transport}` });
    const received: AgentEvent[] = [];
    const stream = client.streamRun(thread.id, 'what is 2+3?');
    for await (const event of stream) if (event.type !== 'resync') received.push(event);
    const eventIds = new Set(received.map((e) => `${e.epoch}:${e.seq}`));
    const { run } = await stream.sent;
    expect(received.at(-1)?.type).toBe('agent_completed');
    expect(received.every((e) => !('_meta' in e))).toBe(true);

    let spans: Span[] = [];
    for (let i = 0; i < 50; i++) {
      spans = await flushedSpans();
      const consumers = spans.filter(
        (s) =>
          s.kind === OTLP.CONSUMER && eventIds.has(String(otlpAttr(s, 'messaging.message.id'))),
      );
      if (consumers.length >= received.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ids = byId(spans);
    const clientSend = spans.find(
      (s) =>
        s.name === 'chat.send' &&
        s.kind === OTLP.CLIENT &&
        s.service === 'tracewire-client' &&
        spans.some(
          (x) =>
            x.parentSpanId === s.spanId &&
            otlpAttr(x, 'user.id') === 'alice' &&
            spans.some(
              (a) =>
                a.name === 'invoke_agent demo' &&
                a.parentSpanId === x.spanId &&
                otlpAttr(a, 'tracewire.run.id') === run.id,
            ),
        ),
    );
    expect(clientSend, 'CLIENT chat.send span').toBeDefined();
    const traceId = clientSend!.traceId;
    const inTrace = spans.filter((s) => s.traceId === traceId);

    const serverSend = inTrace.find((s) => s.name === 'chat.send' && s.kind === OTLP.SERVER)!;
    expect(serverSend.parentSpanId).toBe(clientSend!.spanId);
    expect(serverSend.service).toBe('tracewire');
    expect(otlpAttr(serverSend, 'user.id')).toBe('alice');
    expect(otlpAttr(serverSend, 'app.request_id')).toMatch(/\S/);
    expect(otlpAttr(serverSend, 'rpc.system.name')).toBe('trpc');
    expect(otlpAttr(serverSend, 'network.protocol.name')).toBe(
      transport === 'ws' ? 'websocket' : 'http',
    );

    const storeSend = inTrace.find((s) => s.name === 'chat_store.createMessageAndRun')!;
    expect(storeSend.parentSpanId).toBe(serverSend.spanId);
    expect(otlpAttr(storeSend, 'db.system.name')).toBe('sqlite');
    const agent = inTrace.find((s) => s.name === 'invoke_agent demo')!;
    expect(agent.parentSpanId).toBe(serverSend.spanId);
    const tools = inTrace.filter((s) => s.name.startsWith('execute_tool '));
    expect(tools.map((s) => s.name).sort()).toEqual([
      'execute_tool calculator',
      'execute_tool clock',
    ]);
    for (const tool of tools) expect(tool.parentSpanId).toBe(agent.spanId);

    expect(
      inTrace.some((s) => s.name === 'chat_store.updateRun' && s.parentSpanId === agent.spanId),
    ).toBe(true);
    const producers = inTrace.filter((s) => s.kind === OTLP.PRODUCER);
    expect(producers).toHaveLength(received.length);
    for (const p of producers) {
      expect([agent.spanId, ...tools.map((t) => t.spanId)]).toContain(p.parentSpanId);
    }
    const consumers = inTrace.filter((s) => s.kind === OTLP.CONSUMER);
    expect(consumers).toHaveLength(received.length);
    const subscription = spans.find(
      (s) =>
        s.name === 'agent.events' &&
        s.kind === OTLP.CLIENT &&
        consumers.some((c) => c.links?.some((l) => l.spanId === s.spanId)),
    );
    expect(subscription, 'CLIENT agent.events span linked from consumers').toBeDefined();
    // The subscription's own work (ownership check, stream head) nests under its SERVER span,
    // although the transport resumes the stream outside it.
    const serverSub = spans.find(
      (s) =>
        s.name === 'agent.events' &&
        s.kind === OTLP.SERVER &&
        s.parentSpanId === subscription!.spanId,
    );
    expect(serverSub, 'SERVER agent.events span under the CLIENT one').toBeDefined();
    const subChildren = spans
      .filter((s) => s.parentSpanId === serverSub!.spanId)
      .map((s) => s.name);
    expect(subChildren).toEqual(expect.arrayContaining(['chat_store.getThread', 'event_log.head']));
    for (const c of consumers) {
      expect(c.service).toBe('tracewire-client');
      const parent = ids.get(c.parentSpanId!);
      expect(parent?.kind).toBe(OTLP.PRODUCER);
      expect(c.links?.map((l) => l.spanId)).toContain(subscription!.spanId);
    }
    expect(new Set(consumers.map((c) => String(otlpAttr(c, 'messaging.message.id'))))).toEqual(
      eventIds,
    );
  });
});

test('the request id is the same in the error, the server span and the log lines of the call', async () => {
  const token = await srv.tokenFor('alice');
  await using client = createTracewireClient({
    url: srv.url,
    token,
    WebSocket,
    tracing: { tracerProvider: clientProvider },
  });
  const err = await client.trpc.agent.run
    .query({ runId: 'run_0000000000000000000000000z' })
    .catch((e: unknown) => e);
  const info = getErrorInfo(err);
  expect(info.appCode).toBe('NOT_FOUND');
  const requestId = info.requestId!;
  expect(requestId).toMatch(/\S/);
  let server: Span | undefined;
  for (let i = 0; i < 50 && !server; i++) {
    server = (await flushedSpans()).find(
      (s) => s.kind === OTLP.SERVER && otlpAttr(s, 'app.request_id') === requestId,
    );
    if (!server) await new Promise((r) => setTimeout(r, 100));
  }
  expect(server?.name).toBe('agent.run');
  expect(otlpAttr(server, 'rpc.status_code')).toBe('NOT_FOUND');
  const lines = logLines.filter((l) => l['request_id'] === requestId);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    expect(line['user_id']).toBe('alice');
    expect(line['trace_id']).toBe(server!.traceId);
  }
});

test('client baggage and unknown _meta fields are refused, identity comes from the token', async () => {
  const token = await srv.tokenFor('alice');
  const res = await fetch(
    `${srv.url}/trpc/chat.listThreads?input=${encodeURIComponent(JSON.stringify({ json: { _meta: { baggage: 'user.id=mallory' } } }))}`,
    {
      headers: { authorization: `Bearer ${token}`, baggage: 'user.id=mallory' },
    },
  );
  expect(res.status).toBe(400);
  const ok = await fetch(
    `${srv.url}/trpc/chat.listThreads?input=${encodeURIComponent(JSON.stringify({ json: { _meta: { requestId: 'baggage-check-1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } } }))}`,
    {
      headers: { authorization: `Bearer ${token}`, baggage: 'user.id=mallory' },
    },
  );
  expect(ok.status).toBe(200);
  let server: Span | undefined;
  for (let i = 0; i < 50 && !server; i++) {
    server = (await flushedSpans()).find(
      (s) => otlpAttr(s, 'app.request_id') === 'baggage-check-1',
    );
    if (!server) await new Promise((r) => setTimeout(r, 100));
  }
  expect(server?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
  expect(server?.parentSpanId).toBe('b7ad6b7169203331');
  expect(otlpAttr(server, 'user.id')).toBe('alice');
});

test('/metrics answers in Prometheus text and the counters move with traffic', async () => {
  const read = async () => {
    const res = await fetch(`${srv.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.text();
  };
  const counter = (text: string, name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(name) && !l.startsWith('#'))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  const token = await srv.tokenFor('bob');
  await using client = createTracewireClient({ url: srv.url, token, WebSocket, tracing: false });
  const thread = await client.trpc.chat.createThread.mutate({});
  for await (const _ of client.streamRun(thread.id, '1+1')) void _;
  const before = await read();
  for await (const _ of client.streamRun(thread.id, '2+2')) void _;
  const after = await read();
  for (const name of ['tracewire_events_delivered', 'tracewire_events_published']) {
    expect(counter(after, name), name).toBeGreaterThan(counter(before, name));
  }
  expect(after).toMatch(/rpc_server_call_duration.*_count\{[^}]*rpc_method="chat.send"/);
  expect(after).toMatch(/tracewire_runs_duration/);
  expect(after).toMatch(/tracewire_tools_duration/);
});

test('over the event span budget, events link to their run and tool spans: the trace stays whole', async () => {
  // Budget 0: no event but the terminal one has a PRODUCER span of its own.
  await using capped = await startTestServer({
    env: { TRACEWIRE_EVENT_SPANS_PER_SECOND: '0' },
    overrides: {
      meterProvider: telemetry.meterProvider,
      renderMetrics: () => telemetry.renderMetrics(),
    },
  });
  await using client = createTracewireClient({
    url: capped.url,
    token: await capped.tokenFor('carol'),
    WebSocket,
    tracing: { tracerProvider: clientProvider },
  });
  const thread = await client.trpc.chat.createThread.mutate({ title: 'budget' });
  const received: AgentEvent[] = [];
  const stream = client.streamRun(thread.id, 'what is 6*7?');
  for await (const event of stream) if (event.type !== 'resync') received.push(event);
  const { run } = await stream.sent;
  expect(received.at(-1)?.type).toBe('agent_completed');

  let spans: Span[] = [];
  let agent: Span | undefined;
  let consumers: Span[] = [];
  for (let i = 0; i < 50; i++) {
    spans = await flushedSpans();
    agent = spans.find(
      (s) => s.name === 'invoke_agent demo' && otlpAttr(s, 'tracewire.run.id') === run.id,
    );
    consumers = agent
      ? spans.filter((s) => s.kind === OTLP.CONSUMER && s.traceId === agent!.traceId)
      : [];
    if (consumers.length >= received.length) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(agent, 'invoke_agent span of the run').toBeDefined();
  const inTrace = spans.filter((s) => s.traceId === agent!.traceId);
  const producers = inTrace.filter((s) => s.kind === OTLP.PRODUCER);
  expect(producers.map((p) => otlpAttr(p, 'tracewire.event.type'))).toEqual(['agent_completed']);
  // Every received event has its CONSUMER span in the run's trace, under the span that
  // produced it: the terminal event's PRODUCER span, else the agent or the tool it ran in.
  expect(consumers).toHaveLength(received.length);
  const ids = byId(inTrace);
  const tools = inTrace.filter((s) => s.name.startsWith('execute_tool '));
  for (const c of consumers) {
    const parent = ids.get(c.parentSpanId!);
    expect(parent, `parent of ${String(otlpAttr(c, 'tracewire.event.type'))}`).toBeDefined();
    expect([producers[0]!.spanId, agent!.spanId, ...tools.map((t) => t.spanId)]).toContain(
      parent!.spanId,
    );
  }
  const text = await telemetry.renderMetrics();
  const skipped = Number(
    /^tracewire_events_spans_skipped_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1],
  );
  expect(skipped).toBe(received.length - 1);
});
