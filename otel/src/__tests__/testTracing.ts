/**
 * Test helpers: real SDK providers with in-memory exporters (no OTel mocks), the global ALS
 * context manager, and polling.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';

/** A provider whose finished spans are readable synchronously. */
export interface TestProvider {
  provider: NodeTracerProvider;
  exporter: InMemorySpanExporter;
  spans(): ReadableSpan[];
  byName(name: string): ReadableSpan[];
  one(name: string): ReadableSpan;
}

/** Creates a provider with an in-memory exporter for `serviceName`. */
export function createTestProvider(serviceName: string): TestProvider {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const spans = () => exporter.getFinishedSpans();
  const byName = (name: string) => spans().filter((s) => s.name === name);
  return {
    provider,
    exporter,
    spans,
    byName,
    one(name) {
      const found = byName(name);
      if (found.length !== 1)
        throw new Error(
          `expected one span ${name}, got ${found.length}: ${spans()
            .map((s) => s.name)
            .join(', ')}`,
        );
      return found[0]!;
    },
  };
}

/** Registers the ALS context manager (+ optionally `provider` as global) and undoes it on dispose. */
export function useGlobalTracing(provider?: NodeTracerProvider): Disposable {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (provider) trace.setGlobalTracerProvider(provider);
  return {
    [Symbol.dispose]() {
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** Polls `check` until it returns a truthy value (bounded). */
export async function waitFor<T>(check: () => T | undefined | false, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** True when `child`'s parent is `parent`. */
export const isChildOf = (child: ReadableSpan, parent: ReadableSpan): boolean =>
  child.parentSpanContext?.spanId === parent.spanContext().spanId &&
  child.spanContext().traceId === parent.spanContext().traceId;
