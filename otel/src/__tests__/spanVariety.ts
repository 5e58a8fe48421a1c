/** Finished spans from a real SDK for exporter tests, and a one-shot export helper. */
import type { SpanContext } from '@opentelemetry/api';
import { SpanKind, SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** Finished spans from a real SDK, covering every field the OTLP body carries. */
export function varietyOfSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const make = (service: string, attributeCountLimit?: number) =>
    new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service, 'host.cores': 2 }),
      spanProcessors: [new SimpleSpanProcessor(memory)],
      ...(attributeCountLimit ? { spanLimits: { attributeCountLimit } } : {}),
    });
  const a = make('svc-a');
  const b = make('svc-b', 2);
  const remote: SpanContext = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=abc,other=1'),
  };
  const server = a.getTracer('@tracewire/server', '1.2.3');
  const parent = server.startSpan(
    'chat.send',
    { kind: SpanKind.SERVER, attributes: { 'rpc.method': 'chat.send', retries: 0 } },
    trace.setSpanContext(context.active(), remote),
  );
  const child = server.startSpan(
    'send agent.events',
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        str: 'x',
        int: 42,
        double: 1.5,
        negative: -7,
        bool: false,
        strings: ['a', 'b'],
        numbers: [1, 2.5],
        bools: [true, false],
        unicode: 'é ✓ \u2028',
      },
      links: [
        { context: remote, attributes: { why: 'follows' } },
        { context: parent.spanContext() },
      ],
    },
    trace.setSpan(context.active(), parent),
  );
  child.addEvent('retry', { attempt: 2 });
  child.addEvent('plain');
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'tool failed' });
  child.end();
  parent.setStatus({ code: SpanStatusCode.OK });
  parent.end();
  const scoped = a.getTracer('other-scope', undefined, { schemaUrl: 'https://example.com/s' });
  scoped.startSpan('internal').end();
  const limited = b.getTracer('@tracewire/otel').startSpan('limited', {
    kind: SpanKind.CLIENT,
    attributes: { one: 1, two: 2, three: 3, four: 4 },
  });
  limited.end();
  return memory.getFinishedSpans();
}

/** Exports `spans` once and resolves with the outcome. */
export const exportOnce = (exporter: Pick<SpanExporter, 'export'>, spans: ReadableSpan[]) =>
  new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
