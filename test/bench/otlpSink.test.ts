import { SpanKind, context, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, test } from 'vitest';
import { countOtlpJsonSpans, startOtlpSink } from '../../bench/src/otlpSink.js';

/** The bench's OTLP sink counts spans without parsing: checked against the real exporter. */
describe('bench OTLP sink', () => {
  test('counts every span the OTLP/JSON exporter sends, links, events and tricky values included', async () => {
    const sink = await startOtlpSink();
    const provider = new BasicTracerProvider({
      spanProcessors: [
        new BatchSpanProcessor(new OTLPTraceExporter({ url: `${sink.url}/v1/traces` }), {
          maxExportBatchSize: 64,
        }),
      ],
    });
    try {
      const tracer = provider.getTracer('bench-sink-test');
      const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER });
      const ctx = trace.setSpan(context.active(), parent);
      for (let i = 0; i < 300; i++) {
        const span = tracer.startSpan(
          'send agent.events',
          {
            kind: SpanKind.PRODUCER,
            // Strings that look like the member the sink counts must not be counted.
            attributes: { kind: 'PRODUCER', 'tracewire.note': '{"kind":1}' },
            links: [{ context: parent.spanContext(), attributes: { kind: 'link' } }],
          },
          ctx,
        );
        span.addEvent('kind', { '"kind":': 2 });
        span.end();
      }
      parent.end();
      await provider.forceFlush();
      const got = sink.take();
      expect(got.requests).toBeGreaterThanOrEqual(5);
      expect(got.spans).toBe(301);
      expect(sink.take()).toEqual({ requests: 0, bytes: 0, spans: 0 });
    } finally {
      await provider.shutdown();
      await sink.close();
    }
  });

  test('counts nothing in a body without spans', () => {
    expect(countOtlpJsonSpans(Buffer.from('{"resourceSpans":[]}'))).toBe(0);
    expect(countOtlpJsonSpans(Buffer.alloc(0))).toBe(0);
  });
});
