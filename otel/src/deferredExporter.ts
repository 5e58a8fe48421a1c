import { context } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/**
 * Starts each export on a later macrotask. The batch span processor exports from inside the
 * `span.end()` that fills its batch, and in the server that call runs in event delivery: an
 * event's PRODUCER span ends right after its frames are queued and before they are written,
 * so serialising a batch of 512 spans (2–3 ms on 2 shared cores) held those frames back.
 * The context of the call (in which the processor suppressed tracing) goes along, so the
 * exporter's own request is still not traced.
 */
export class DeferredSpanExporter implements SpanExporter {
  readonly #inner: SpanExporter;

  constructor(inner: SpanExporter) {
    this.#inner = inner;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const ctx = context.active();
    setImmediate(() => {
      try {
        context.with(ctx, () => this.#inner.export(spans, resultCallback));
      } catch (err) {
        // Thrown here it would be uncaught: report it the way a failed export is reported.
        resultCallback({
          code: ExportResultCode.FAILED,
          error: err instanceof Error ? err : new Error(String(err)),
        });
      }
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}
