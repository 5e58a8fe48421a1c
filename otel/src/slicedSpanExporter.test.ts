import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, test } from 'vitest';
import { startOtlpReceiver } from './__tests__/otlpReceiver.js';
import { describeSpanExporterContract, stockBody } from './__tests__/spanExporterContract.js';
import { exportOnce, varietyOfSpans } from './__tests__/spanVariety.js';
import { SlicedSpanExporter } from './slicedSpanExporter.js';

interface Scoped {
  schemaUrl?: string;
  scope?: unknown;
  spans?: Array<{ spanId: string }>;
}
interface Body {
  resourceSpans: Array<{ schemaUrl?: string; resource?: unknown; scopeSpans: Scoped[] }>;
}

/** Every span of a body with the resource and scope it was sent under, in span id order. */
function flatten(raw: string) {
  const body = JSON.parse(raw) as Body;
  return body.resourceSpans
    .flatMap((rs) =>
      rs.scopeSpans.flatMap((ss) =>
        (ss.spans ?? []).map((span) => ({
          resource: rs.resource,
          resourceSchema: rs.schemaUrl,
          scope: ss.scope,
          scopeSchema: ss.schemaUrl,
          span,
        })),
      ),
    )
    .sort((a, b) => a.span.spanId.localeCompare(b.span.spanId));
}

// At the default slice size: a small batch is one slice, `longBatch()` three.
describeSpanExporterContract('SlicedSpanExporter', (url) => new SlicedSpanExporter({ url }));

describe('SlicedSpanExporter', () => {
  test.each([
    ['one span per slice', 1, 1],
    ['slices that split a resource', 3, 1],
    ['the default slice over a long batch', undefined, 33],
  ])(
    'a batch of several slices goes in one request with the same spans, resources and scopes (%s)',
    async (_name, sliceSize, copies) => {
      const spans = Array.from({ length: copies }, () => varietyOfSpans()).flat();
      await using receiver = await startOtlpReceiver();
      const exporter = new SlicedSpanExporter({
        url: `${receiver.url}/v1/traces`,
        ...(sliceSize ? { sliceSize } : {}),
      });
      try {
        expect(await exportOnce(exporter, spans)).toEqual({ code: ExportResultCode.SUCCESS });
      } finally {
        await exporter.shutdown();
      }
      expect(receiver.requests).toHaveLength(1);
      const raw = receiver.requests[0]!.raw;
      const slices = Math.ceil(spans.length / (sliceSize ?? 64));
      expect((JSON.parse(raw) as Body).resourceSpans.length).toBeGreaterThanOrEqual(slices);
      const sent = flatten(raw);
      expect(sent).toHaveLength(spans.length);
      expect(sent).toEqual(flatten(await stockBody(spans)));
    },
  );

  /** Three spans whose last records, in `order`, when the serialiser reads it. */
  function watchedSpans(order: string[]): ReadableSpan[] {
    const [first, second, third] = varietyOfSpans();
    const watched = Object.create(third!, {
      name: {
        get() {
          order.push('third span serialised');
          return third!.name;
        },
      },
    }) as ReadableSpan;
    return [first!, second!, watched];
  }

  test('serialises one slice per loop turn: I/O queued during an export runs between slices', async () => {
    await using receiver = await startOtlpReceiver();
    const exporter = new SlicedSpanExporter({
      url: `${receiver.url}/v1/traces`,
      sliceSize: 1,
      // Generous, so a slow CI turn cannot make this test's loop count as busy.
      yieldForMs: 60_000,
      busyTurnMs: 60_000,
    });
    const order: string[] = [];
    try {
      const done = exportOnce(exporter, watchedSpans(order));
      expect(order).toEqual([]);
      setImmediate(() => order.push('other work'));
      expect(await done).toEqual({ code: ExportResultCode.SUCCESS });
      expect(order).toEqual(['other work', 'third span serialised']);
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await exporter.shutdown();
    }
  });

  test('serialises the rest at once once yieldForMs has passed', async () => {
    await using receiver = await startOtlpReceiver();
    const exporter = new SlicedSpanExporter({
      url: `${receiver.url}/v1/traces`,
      sliceSize: 1,
      yieldForMs: 0,
    });
    const order: string[] = [];
    try {
      const done = exportOnce(exporter, watchedSpans(order));
      expect(order).toEqual(['third span serialised']);
      expect(await done).toEqual({ code: ExportResultCode.SUCCESS });
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await exporter.shutdown();
    }
  });

  test('after a long loop turn it stops yielding: a busy loop gets whole batches, as stock', async () => {
    await using receiver = await startOtlpReceiver();
    const exporter = new SlicedSpanExporter({
      url: `${receiver.url}/v1/traces`,
      sliceSize: 1,
      yieldForMs: 60_000,
      busyTurnMs: 5,
    });
    try {
      const first = exportOnce(exporter, varietyOfSpans());
      setImmediate(() => {
        const until = performance.now() + 20;
        while (performance.now() < until); // a long turn of other work
      });
      expect((await first).code).toBe(ExportResultCode.SUCCESS);
      const order: string[] = [];
      const second = exportOnce(exporter, watchedSpans(order));
      expect(order).toEqual(['third span serialised']);
      expect((await second).code).toBe(ExportResultCode.SUCCESS);
      expect(receiver.requests).toHaveLength(2);
    } finally {
      await exporter.shutdown();
    }
  });

  test('a span it cannot serialise fails its batch, sends nothing, and the next batch goes', async () => {
    await using receiver = await startOtlpReceiver();
    const exporter = new SlicedSpanExporter({ url: `${receiver.url}/v1/traces`, sliceSize: 2 });
    const spans = varietyOfSpans();
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const bad = Object.assign(Object.create(spans[3]!) as ReadableSpan, { attributes: cyclic });
    try {
      const result = await exportOnce(exporter, [...spans.slice(0, 3), bad]);
      expect(result.code).toBe(ExportResultCode.FAILED);
      // The stock transformer recurses into attribute values: a cycle overflows its stack.
      expect(result.error?.message).toMatch(/call stack/i);
      expect(receiver.requests).toHaveLength(0);
      expect((await exportOnce(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await exporter.shutdown();
    }
  });

  test('refuses a slice size that is not a positive integer', () => {
    for (const sliceSize of [0, -1, 1.5, Number.NaN])
      expect(
        () => new SlicedSpanExporter({ url: 'http://127.0.0.1:9/v1/traces', sliceSize }),
      ).toThrow(RangeError);
  });
});
