/**
 * What every OTLP span exporter the server can use must do, as one suite run per exporter
 * (`ThreadSpanExporter`, `SlicedSpanExporter`), against a real loopback receiver.
 */
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, test } from 'vitest';
import { startOtlpReceiver } from './otlpReceiver.js';
import { exportOnce, varietyOfSpans } from './spanVariety.js';

/** What the stock exporter sends for `spans`. */
export async function stockBody(spans: ReadableSpan[]): Promise<string> {
  await using stock = await startOtlpReceiver();
  const reference = new OTLPTraceExporter({ url: `${stock.url}/v1/traces` });
  expect(await exportOnce(reference, spans)).toEqual({ code: ExportResultCode.SUCCESS });
  await reference.shutdown();
  return stock.requests[0]!.raw;
}

/** A batch of 132 spans: several slices for an exporter that slices. */
export const longBatch = (): ReadableSpan[] =>
  Array.from({ length: 33 }, () => varietyOfSpans()).flat();

/** Runs the contract for the exporter `make` builds for a traces endpoint URL. */
export function describeSpanExporterContract(
  name: string,
  make: (url: string) => SpanExporter,
): void {
  describe(`${name}: the span exporter contract`, () => {
    test('sends byte for byte the body the stock OTLP exporter sends for a small batch', async () => {
      const spans = varietyOfSpans();
      expect(spans.length).toBe(4);
      await using receiver = await startOtlpReceiver();
      const exporter = make(`${receiver.url}/v1/traces`);
      try {
        expect(await exportOnce(exporter, spans)).toEqual({ code: ExportResultCode.SUCCESS });
      } finally {
        await exporter.shutdown();
      }
      expect(receiver.requests).toHaveLength(1);
      expect(receiver.requests[0]?.path).toBe('/v1/traces');
      expect(receiver.requests[0]?.contentType).toBe('application/json');
      const raw = receiver.requests[0]!.raw;
      expect(raw).toBe(await stockBody(spans));
      // The comparison covers what it should: two resources, a dropped attribute, the remote parent.
      expect(receiver.requests[0]!.body.resourceSpans).toHaveLength(2);
      expect(raw).toContain('"droppedAttributesCount":2');
      expect(raw).toContain('vendor=abc,other=1');
    });

    test('reports a refused export as failed, with the reason, and goes on exporting', async () => {
      await using refusing = await startOtlpReceiver(400);
      const exporter = make(`${refusing.url}/v1/traces`);
      try {
        const result = await exportOnce(exporter, varietyOfSpans());
        expect(result.code).toBe(ExportResultCode.FAILED);
        expect(result.error).toBeInstanceOf(Error);
        expect(result.error?.message).toMatch(/400|Bad Request/);
        expect((await exportOnce(exporter, varietyOfSpans())).code).toBe(ExportResultCode.FAILED);
        expect(refusing.requests).toHaveLength(2);
      } finally {
        await exporter.shutdown();
      }
    });

    test('forceFlush resolves once every export begun has its outcome', async () => {
      await using receiver = await startOtlpReceiver();
      const exporter = make(`${receiver.url}/v1/traces`);
      try {
        const outcomes: ExportResult[] = [];
        for (let i = 0; i < 3; i++) exporter.export(longBatch(), (r) => outcomes.push(r));
        await exporter.forceFlush?.();
        expect(outcomes).toEqual(Array(3).fill({ code: ExportResultCode.SUCCESS }));
        expect(receiver.requests).toHaveLength(3);
      } finally {
        await exporter.shutdown();
      }
    });

    test('shutdown waits for the exports begun, then refuses new ones', async () => {
      await using receiver = await startOtlpReceiver();
      const exporter = make(`${receiver.url}/v1/traces`);
      const results = Array.from({ length: 5 }, () => exportOnce(exporter, longBatch()));
      await exporter.shutdown();
      expect(receiver.requests).toHaveLength(5);
      for (const r of await Promise.all(results)) expect(r.code).toBe(ExportResultCode.SUCCESS);
      const late = await exportOnce(exporter, varietyOfSpans());
      expect(late.code).toBe(ExportResultCode.FAILED);
      expect(late.error?.message).toMatch(/shut down/);
      await exporter.shutdown();
    });
  });
}
