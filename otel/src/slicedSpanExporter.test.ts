import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, test } from 'vitest';
import { startOtlpReceiver } from './__tests__/otlpReceiver.js';
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

/** What the stock exporter sends for `spans`. */
async function stockBody(spans: ReadableSpan[]): Promise<string> {
  await using stock = await startOtlpReceiver();
  const reference = new OTLPTraceExporter({ url: `${stock.url}/v1/traces` });
  expect(await exportOnce(reference, spans)).toEqual({ code: ExportResultCode.SUCCESS });
  await reference.shutdown();
  return stock.requests[0]!.raw;
}

describe('SlicedSpanExporter', () => {
  test('a batch of one slice is byte for byte what the stock exporter sends', async () => {
    const spans = varietyOfSpans();
    await using receiver = await startOtlpReceiver();
    const exporter = new SlicedSpanExporter({ url: `${receiver.url}/v1/traces` });
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
    expect(raw).toContain('"droppedAttributesCount":2');
  });

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

  test('reports a refused export as failed, with the reason, and goes on exporting', async () => {
    await using refusing = await startOtlpReceiver(400);
    const exporter = new SlicedSpanExporter({ url: `${refusing.url}/v1/traces`, sliceSize: 2 });
    try {
      const result = await exportOnce(exporter, varietyOfSpans());
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(result.error?.message).toMatch(/400|Bad Request/);
      expect((await exportOnce(exporter, varietyOfSpans())).code).toBe(ExportResultCode.FAILED);
      expect(refusing.requests).toHaveLength(2);
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

  test('forceFlush resolves once every export begun has been serialised, sent and answered', async () => {
    await using receiver = await startOtlpReceiver();
    const exporter = new SlicedSpanExporter({ url: `${receiver.url}/v1/traces`, sliceSize: 1 });
    try {
      const outcomes: ExportResult[] = [];
      for (let i = 0; i < 3; i++) exporter.export(varietyOfSpans(), (r) => outcomes.push(r));
      await exporter.forceFlush();
      expect(outcomes).toEqual(Array(3).fill({ code: ExportResultCode.SUCCESS }));
      expect(receiver.requests).toHaveLength(3);
    } finally {
      await exporter.shutdown();
    }
  });

  test('shutdown waits for exports still being serialised, then refuses new ones', async () => {
    await using receiver = await startOtlpReceiver();
    const exporter = new SlicedSpanExporter({ url: `${receiver.url}/v1/traces`, sliceSize: 1 });
    const results = Array.from({ length: 3 }, () => exportOnce(exporter, varietyOfSpans()));
    await exporter.shutdown();
    expect(receiver.requests).toHaveLength(3);
    for (const r of await Promise.all(results)) expect(r.code).toBe(ExportResultCode.SUCCESS);
    const late = await exportOnce(exporter, varietyOfSpans());
    expect(late.code).toBe(ExportResultCode.FAILED);
    expect(late.error?.message).toMatch(/shut down/);
    await exporter.shutdown();
  });

  test('refuses a slice size that is not a positive integer', () => {
    for (const sliceSize of [0, -1, 1.5, Number.NaN])
      expect(
        () => new SlicedSpanExporter({ url: 'http://127.0.0.1:9/v1/traces', sliceSize }),
      ).toThrow(RangeError);
  });
});
