import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  ExportResultCode,
  isTracingSuppressed,
  suppressTracing,
  type ExportResult,
} from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DeferredSpanExporter } from './deferredExporter.js';

/** Finished spans from a real SDK tracer. */
async function finishedSpans(...names: string[]): Promise<ReadableSpan[]> {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  for (const name of names) provider.getTracer('test').startSpan(name).end();
  await provider.forceFlush();
  return memory.getFinishedSpans();
}

describe('DeferredSpanExporter', () => {
  beforeEach(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterEach(() => {
    context.disable();
  });

  test('exports on a later macrotask, in the context of the call', async () => {
    const calls: { names: string[]; suppressed: boolean }[] = [];
    const inner: SpanExporter = {
      export: (spans, done) => {
        calls.push({
          names: spans.map((s) => s.name),
          suppressed: isTracingSuppressed(context.active()),
        });
        done({ code: ExportResultCode.SUCCESS });
      },
      shutdown: () => Promise.resolve(),
    };
    const results: ExportResult[] = [];
    const spans = await finishedSpans('a', 'b');
    context.with(suppressTracing(context.active()), () =>
      new DeferredSpanExporter(inner).export(spans, (r) => results.push(r)),
    );
    expect(calls).toEqual([]);
    await nextMacrotask();
    expect(calls).toEqual([{ names: ['a', 'b'], suppressed: true }]);
    expect(results).toEqual([{ code: ExportResultCode.SUCCESS }]);
  });

  test('reports an exporter that throws as a failed export', async () => {
    const inner: SpanExporter = {
      export: () => {
        throw new Error('serialiser broke');
      },
      shutdown: () => Promise.resolve(),
    };
    const result = await new Promise<ExportResult>((resolve) =>
      new DeferredSpanExporter(inner).export([], resolve),
    );
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toBe('serialiser broke');
  });

  test('passes shutdown and forceFlush through', async () => {
    const memory = new InMemorySpanExporter();
    const exporter = new DeferredSpanExporter(memory);
    const spans = await finishedSpans('kept');
    await new Promise((resolve) => exporter.export(spans, resolve));
    expect(memory.getFinishedSpans().map((s) => s.name)).toEqual(['kept']);
    await exporter.forceFlush();
    await exporter.shutdown();
    expect(memory.getFinishedSpans()).toEqual([]);
  });
});
