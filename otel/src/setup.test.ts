import { SpanKind, context, metrics, trace } from '@opentelemetry/api';
import { describe, expect, test } from 'vitest';
import { otlpAttr, startOtlpReceiver } from './__tests__/otlpReceiver.js';
import { threadsAtNice } from './__tests__/threadNice.js';
import { createTracewireMetrics } from './metrics.js';
import { startTelemetry } from './setup.js';

describe('startTelemetry', () => {
  test('exports spans over real OTLP/HTTP JSON with service name, version and parent ids', async () => {
    await using receiver = await startOtlpReceiver();
    const telemetry = startTelemetry({
      serviceName: 'tracewire-test',
      serviceVersion: '1.2.3',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    });
    try {
      const tracer = trace.getTracer('setup-test'); // global API: registered by startTelemetry
      tracer.startActiveSpan('parent', { kind: SpanKind.SERVER }, (parent) => {
        tracer.startSpan('child').end(); // parent comes from the registered ALS context manager
        parent.end();
      });
      await telemetry.forceFlush();
    } finally {
      await telemetry.shutdown();
    }
    const traces = receiver.requests.filter((r) => r.path === '/v1/traces');
    expect(traces[0]?.contentType).toContain('application/json');
    const spans = receiver.spans();
    const parent = spans.find((s) => s.name === 'parent');
    const child = spans.find((s) => s.name === 'child');
    expect(parent).toMatchObject({ service: 'tracewire-test', kind: 2 }); // OTLP enum: SERVER = API kind + 1
    expect(child?.traceId).toBe(parent?.traceId);
    expect(child?.parentSpanId).toBe(parent?.spanId);
    const resource = traces[0]?.body.resourceSpans?.[0]?.resource;
    expect(otlpAttr(resource, 'service.version')).toBe('1.2.3');
  });

  test('with exportThread, exports the same spans from its worker thread', async () => {
    await using receiver = await startOtlpReceiver();
    const linux = process.platform === 'linux';
    const before = linux ? threadsAtNice(10) : 0;
    const telemetry = startTelemetry({
      serviceName: 'threaded',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
      exportThread: true,
      registerGlobals: false,
    });
    try {
      const tracer = telemetry.tracerProvider.getTracer('setup-test');
      const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER });
      tracer.startSpan('child', {}, trace.setSpan(context.active(), parent)).end();
      parent.end();
      await telemetry.forceFlush();
      // The export ran on the thread, which lowers its own priority (nice 10 by default).
      if (linux) expect(threadsAtNice(10)).toBe(before + 1);
    } finally {
      await telemetry.shutdown();
    }
    const spans = receiver.spans();
    expect(spans.map((s) => s.name).sort()).toEqual(['child', 'parent']);
    const parent = spans.find((s) => s.name === 'parent');
    expect(parent).toMatchObject({ service: 'threaded', kind: 2 });
    expect(spans.find((s) => s.name === 'child')?.parentSpanId).toBe(parent?.spanId);
  });

  test('pushes metrics over OTLP when an endpoint is set', async () => {
    await using receiver = await startOtlpReceiver();
    const telemetry = startTelemetry({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
      registerGlobals: false,
    });
    const m = createTracewireMetrics(telemetry.meterProvider.getMeter('t'));
    m.eventsPublished.add(3, { 'tracewire.event.type': 'message_delta' });
    await telemetry.forceFlush();
    await telemetry.shutdown();
    expect(receiver.metricNames()).toContain('tracewire.events.published');
  });

  test('renders Prometheus text without starting a server, and counters move', async () => {
    const telemetry = startTelemetry({ env: {}, serviceName: 'prom' });
    try {
      const m = createTracewireMetrics(metrics.getMeter('t')); // the registered global meter provider
      m.eventsPublished.add(1, { 'tracewire.event.type': 'message_delta' });
      const first = await telemetry.renderMetrics();
      m.eventsPublished.add(2, { 'tracewire.event.type': 'message_delta' });
      m.rpcServerCallDuration.record(0.02, {
        'rpc.system.name': 'trpc',
        'rpc.method': 'chat.send',
        'rpc.status_code': 'OK',
      });
      const second = await telemetry.renderMetrics();
      const count = (text: string) =>
        Number(/^tracewire_events_published_total\{[^}]*\} (\d+)/m.exec(text)?.[1]);
      expect(count(first)).toBe(1);
      expect(count(second)).toBe(3);
      expect(second).toMatch(/^# TYPE rpc_server_call_duration histogram$/m);
      expect(second).toContain('rpc_method="chat.send"');
    } finally {
      await telemetry.shutdown();
    }
  });

  test('turns tracing off with OTEL_SDK_DISABLED and honours OTEL_TRACES_SAMPLER', async () => {
    const off = startTelemetry({ env: { OTEL_SDK_DISABLED: 'true' }, registerGlobals: false });
    expect(off.tracerProvider.getTracer('t').startSpan('x').isRecording()).toBe(false);
    expect(await off.renderMetrics()).toBeTypeOf('string');
    await off.shutdown();

    const never = startTelemetry({
      env: { OTEL_TRACES_SAMPLER: 'always_off' },
      registerGlobals: false,
    });
    expect(never.tracerProvider.getTracer('t').startSpan('x').isRecording()).toBe(false);
    await never.shutdown();

    const always = startTelemetry({ env: {}, registerGlobals: false });
    expect(always.tracerProvider.getTracer('t').startSpan('x').isRecording()).toBe(true);
    await always.shutdown();
  });

  test('gives OTEL_BSP_MAX_QUEUE_SIZE to the batch span processor: past it, spans are dropped', async () => {
    const exported = async (env: Record<string, string>) => {
      await using receiver = await startOtlpReceiver();
      const telemetry = startTelemetry({
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...env },
        registerGlobals: false,
      });
      try {
        const tracer = telemetry.tracerProvider.getTracer('bsp-test');
        // 25 spans in one tick: no export finishes in between to make room.
        for (let i = 0; i < 25; i++) tracer.startSpan(`s${i}`).end();
        await telemetry.forceFlush();
        return receiver.spans().length;
      } finally {
        await telemetry.shutdown();
      }
    };
    expect(await exported({})).toBe(25);
    const small = await exported({ OTEL_BSP_MAX_QUEUE_SIZE: '10' });
    expect(small).toBeGreaterThanOrEqual(10);
    expect(small).toBeLessThan(25);
  });

  test('reports dropped spans through the logger, with their count', async () => {
    await using receiver = await startOtlpReceiver();
    const warnings: string[] = [];
    const telemetry = startTelemetry({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_MAX_QUEUE_SIZE: '10' },
      logger: { warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') },
    });
    try {
      const tracer = telemetry.tracerProvider.getTracer('bsp-test');
      for (let i = 0; i < 25; i++) tracer.startSpan(`s${i}`).end();
      await telemetry.forceFlush();
      const dropped = 25 - receiver.spans().length;
      expect(dropped).toBeGreaterThan(0);
      tracer.startSpan('after').end(); // the SDK reports drops when the queue takes a span again
      expect(warnings).toContain(`Dropped ${dropped} spans because maxQueueSize reached`);
    } finally {
      await telemetry.shutdown();
    }
  });

  test('gives OTEL_BSP_SCHEDULE_DELAY to the batch span processor', async () => {
    await using receiver = await startOtlpReceiver();
    const telemetry = startTelemetry({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '20' },
      registerGlobals: false,
    });
    try {
      telemetry.tracerProvider.getTracer('bsp-test').startSpan('soon').end();
      // No forceFlush: with the default 5 s delay nothing would arrive within this wait.
      for (let i = 0; i < 100 && receiver.spans().length === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(receiver.spans().map((s) => s.name)).toEqual(['soon']);
    } finally {
      await telemetry.shutdown();
    }
  });

  test('shuts down once, unregisters its globals, and can start again', async () => {
    const first = startTelemetry({ env: {} });
    expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(true);
    await Promise.all([first.shutdown(), first.shutdown()]);
    await first.shutdown();
    expect(trace.getTracer('t').startSpan('x').isRecording()).toBe(false);
    const second = startTelemetry({ env: {} });
    expect(trace.getTracer('t').startSpan('y').isRecording()).toBe(true);
    await second.shutdown();
  });
});
