import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation } from '@opentelemetry/api';
import type { createTRPCClient } from '@trpc/client';
import type { TRPCClientError } from '@trpc/client';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createTestRouter, startHttpApp, startWsApp } from './__tests__/tracedApp.js';
import type { TestRouter } from './__tests__/tracedApp.js';
import {
  createTestProvider,
  isChildOf,
  useGlobalTracing,
  waitFor,
} from './__tests__/testTracing.js';
import { createTracewireMetrics } from './metrics.js';
import { startTelemetry } from './setup.js';

const server = createTestProvider('tracewire-server');
const sdk = createTestProvider('tracewire-sdk');
const globals = useGlobalTracing(server.provider); // agent/tool/producer helpers use the global provider
const telemetry = startTelemetry({ env: {}, registerGlobals: false });
const metrics = createTracewireMetrics(telemetry.meterProvider.getMeter('test'));
const { router } = createTestRouter({ server, metrics });
afterAll(async () => {
  globals[Symbol.dispose]();
  await telemetry.shutdown();
});
beforeEach(() => {
  server.exporter.reset();
  sdk.exporter.reset();
});

const sameTrace = (a: ReadableSpan, b: ReadableSpan) =>
  a.spanContext().traceId === b.spanContext().traceId;
const kindOf = (spans: ReadableSpan[], kind: SpanKind) => spans.filter((s) => s.kind === kind);

type Received = { id: string; data: Record<string, unknown> };

/** Subscribes, sends one chat turn, waits for both events, unsubscribes; returns what the app saw. */
async function chatTurn(trpc: ReturnType<typeof createTRPCClient<TestRouter>>, threadId: string) {
  const received: Received[] = [];
  let started!: () => void;
  const isStarted = new Promise<void>((r) => (started = r));
  const sub = trpc.agent.events.subscribe(
    { threadId },
    {
      onStarted: () => started(),
      onData: (d) => received.push(d as Received),
      onError: (e) => console.error(e),
    },
  );
  await isStarted;
  const result = await trpc.chat.send.mutate({ threadId, text: 'hi' });
  await waitFor(() => received.length === 2);
  sub.unsubscribe();
  await waitFor(
    () => server.byName('agent.events').length === 1 && sdk.byName('agent.events').length === 1,
  );
  return { received, result };
}

/** The span-tree assertions shared by both transports. */
function expectOneTracePerTurn(transport: 'websocket' | 'http') {
  const clientSend = sdk.one('chat.send');
  const serverSend = server.one('chat.send');
  expect(clientSend.kind).toBe(SpanKind.CLIENT);
  expect(clientSend.attributes).toMatchObject({
    'rpc.system.name': 'trpc',
    'rpc.method': 'chat.send',
    'rpc.status_code': 'OK',
  });
  expect(serverSend.kind).toBe(SpanKind.SERVER);
  expect(isChildOf(serverSend, clientSend)).toBe(true);
  expect(serverSend.attributes).toMatchObject({
    'rpc.system.name': 'trpc',
    'rpc.method': 'chat.send',
    'rpc.status_code': 'OK',
    'user.id': 'user-42',
    'network.protocol.name': transport,
    'app.request_id': clientSend.attributes['app.request_id'],
  });

  const agent = server.one('invoke_agent demo');
  expect(isChildOf(agent, serverSend)).toBe(true);
  expect(isChildOf(server.one('execute_tool calculator'), agent)).toBe(true);
  const producers = server.byName('send agent.events');
  expect(producers).toHaveLength(2);
  expect(producers.every((p) => p.kind === SpanKind.PRODUCER && isChildOf(p, agent))).toBe(true);

  // CONSUMER spans join the chat turn's trace under their PRODUCER span, linked to the subscription span
  const clientSub = sdk.one('agent.events');
  const consumers = kindOf(sdk.byName('process agent.events'), SpanKind.CONSUMER);
  expect(consumers).toHaveLength(2);
  for (const [i, consumer] of consumers.entries()) {
    expect(isChildOf(consumer, producers[i]!)).toBe(true);
    expect(sameTrace(consumer, clientSend)).toBe(true);
    expect(consumer.links.map((l) => l.context.spanId)).toContain(clientSub.spanContext().spanId);
    expect(consumer.attributes).toMatchObject({
      'messaging.operation.type': 'process',
      'messaging.message.id': String(i + 1),
    });
  }

  // the subscription: SERVER under CLIENT, generator body spans under SERVER, ended with the stream
  const serverSub = server.one('agent.events');
  expect(isChildOf(serverSub, clientSub)).toBe(true);
  expect(isChildOf(server.one('generator.start'), serverSub)).toBe(true);
  expect(server.byName('generator.step').every((s) => isChildOf(s, serverSub))).toBe(true);
  expect(serverSub.status.code).toBe(SpanStatusCode.UNSET);
  expect(serverSub.attributes['rpc.status_code']).toBe('OK');
}

describe('tracing tRPC calls end to end', () => {
  test('over WebSocket: one trace from the CLIENT span through SERVER, agent, tool and PRODUCER to CONSUMER spans', async () => {
    await using app = await startWsApp(router, sdk);
    const trpc = app.connect('user-42');
    const { received, result } = await chatTurn(trpc, 'thr_ws');
    expect(result).toEqual({ ok: true }); // `.strict()` input passed: _meta was stripped before validation
    expect(received.map((r) => r.id)).toEqual(['1', '2']);
    expect(received.every((r) => !('_meta' in r.data))).toBe(true);
    expect(received.map((r) => r.data['delta'])).toEqual(['Hel', 'lo']);
    expectOneTracePerTurn('websocket');
    expect(app.requestIds).toContain(server.one('chat.send').attributes['app.request_id']);
  });

  test('over HTTP batch and SSE: the same span tree', async () => {
    await using app = await startHttpApp(router, sdk, 'user-42');
    const [who] = await Promise.all([
      app.trpc.chat.whoami.query({}),
      app.trpc.chat.whoami.query({}),
    ]); // one batch
    const whoServer = server.byName('chat.whoami');
    expect(whoServer).toHaveLength(2);
    expect(who.traceId).toBe(sdk.byName('chat.whoami')[0]!.spanContext().traceId);
    server.exporter.reset();
    sdk.exporter.reset();
    const { received } = await chatTurn(app.trpc, 'thr_http');
    expect(received.every((r) => !('_meta' in r.data))).toBe(true);
    expectOneTracePerTurn('http');
  });

  test('starts a new trace linked to the client context for an unauthenticated caller', async () => {
    await using app = await startWsApp(router, sdk);
    const who = await app.connect(null).chat.whoami.query({});
    const clientSpan = sdk.one('chat.whoami');
    const serverSpan = server.one('chat.whoami');
    expect(sameTrace(serverSpan, clientSpan)).toBe(false);
    expect(who.traceId).toBe(serverSpan.spanContext().traceId);
    expect(serverSpan.parentSpanContext).toBeUndefined();
    expect(serverSpan.links[0]?.context.spanId).toBe(clientSpan.spanContext().spanId);
    expect(serverSpan.attributes['user.id']).toBeUndefined();
  });

  test('never hands client baggage to the procedure, over the wire or in process', async () => {
    await using app = await startWsApp(router, sdk);
    const traceparent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const forgedMeta = { _meta: { traceparent, baggage: 'user.id=admin' } } as unknown as Record<
      string,
      never
    >;
    const overWire = await app.connectPlain('user-42').chat.whoami.query(forgedMeta);
    expect(overWire).toEqual({ baggageEntries: 0, traceId: 'a'.repeat(32) }); // trace continued, baggage not

    const caller = router.createCaller({ userId: 'user-42', transport: 'http' });
    const ambient = propagation.setBaggage(
      ROOT_CONTEXT,
      propagation.createBaggage({ 'user.id': { value: 'admin' } }),
    );
    const inProcess = await context.with(ambient, () => caller.chat.whoami(forgedMeta));
    expect(inProcess.baggageEntries).toBe(0);
    expect(server.byName('chat.whoami').map((s) => s.attributes['user.id'])).toEqual([
      'user-42',
      'user-42',
    ]);
  });

  test('accepts calls without _meta from a plain client', async () => {
    await using app = await startWsApp(router, sdk);
    const who = await app.connectPlain('user-42').chat.whoami.query({});
    const span = server.one('chat.whoami');
    expect(who.traceId).toBe(span.spanContext().traceId);
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.attributes['app.request_id']).toMatch(/^[\da-f-]{36}$/);
  });

  test('records the error code on both spans; only server faults mark the SERVER span as failed', async () => {
    await using app = await startWsApp(router, sdk);
    const trpc = app.connect('user-42');
    const notFound = await trpc.chat.fail
      .mutate({ code: 'NOT_FOUND' })
      .catch((e: TRPCClientError<TestRouter>) => e);
    const internal = await trpc.chat.fail
      .mutate({ code: 'INTERNAL_SERVER_ERROR' })
      .catch((e: TRPCClientError<TestRouter>) => e);
    expect(notFound.data?.code).toBe('NOT_FOUND');
    expect(internal.data?.code).toBe('INTERNAL_SERVER_ERROR');
    const [s404, s500] = server.byName('chat.fail');
    expect(s404?.attributes).toMatchObject({
      'rpc.status_code': 'NOT_FOUND',
      'error.type': 'NOT_FOUND',
    });
    expect(s404?.status.code).toBe(SpanStatusCode.UNSET);
    expect(s500?.attributes).toMatchObject({
      'rpc.status_code': 'INTERNAL_SERVER_ERROR',
      'error.type': 'INTERNAL_SERVER_ERROR',
    });
    expect(s500?.status.code).toBe(SpanStatusCode.ERROR);
    const [c404] = sdk.byName('chat.fail');
    expect(c404?.status.code).toBe(SpanStatusCode.ERROR);
    expect(c404?.attributes['rpc.status_code']).toBe('NOT_FOUND');
  });

  test('records RPC durations and active subscriptions in the Prometheus output', async () => {
    await using app = await startWsApp(router, sdk);
    const trpc = app.connect('user-42');
    const count = async () =>
      Number(
        /^rpc_server_call_duration_count\{[^}]*rpc_method="chat.whoami"[^}]*\} (\d+)/m.exec(
          await telemetry.renderMetrics(),
        )?.[1] ?? 0,
      );
    const before = await count();
    await trpc.chat.whoami.query({});
    await trpc.chat.whoami.query({});
    expect(await count()).toBe(before + 2);
    const active = async () =>
      Number(
        /^tracewire_subscriptions_active\{[^}]*\} (-?\d+)/m.exec(
          await telemetry.renderMetrics(),
        )?.[1] ?? 0,
      );
    const sub = trpc.agent.events.subscribe({ threadId: 'thr_m' }, { onData: () => undefined });
    await waitFor(() => server.byName('generator.start').length > 0);
    expect(await active()).toBe(1);
    sub.unsubscribe();
    await waitFor(() => server.byName('agent.events').length === 1);
    expect(await active()).toBe(0);
  });
});
