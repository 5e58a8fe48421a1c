import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, test } from 'vitest';
import { startOtlpReceiver } from './__tests__/otlpReceiver.js';
import { exportOnce, varietyOfSpans } from './__tests__/spanVariety.js';
import { threadsAtNice } from './__tests__/threadNice.js';
import { ThreadSpanExporter } from './threadSpanExporter.js';

describe('ThreadSpanExporter', () => {
  test('sends byte for byte the body the stock OTLP exporter sends, from its thread', async () => {
    const spans = varietyOfSpans();
    expect(spans.length).toBe(4);
    await using stock = await startOtlpReceiver();
    await using threaded = await startOtlpReceiver();
    const reference = new OTLPTraceExporter({ url: `${stock.url}/v1/traces` });
    const exporter = new ThreadSpanExporter({ url: `${threaded.url}/v1/traces` });
    try {
      expect(await exportOnce(reference, spans)).toEqual({ code: ExportResultCode.SUCCESS });
      expect(await exportOnce(exporter, spans)).toEqual({ code: ExportResultCode.SUCCESS });
    } finally {
      await reference.shutdown();
      await exporter.shutdown();
    }
    expect(threaded.requests).toHaveLength(1);
    expect(threaded.requests[0]?.path).toBe('/v1/traces');
    expect(threaded.requests[0]?.contentType).toBe(stock.requests[0]?.contentType);
    expect(threaded.requests[0]?.raw).toBe(stock.requests[0]?.raw);
    // The comparison covers what it should: two resources, a dropped attribute, the remote parent.
    const body = threaded.requests[0]!.body;
    expect(body.resourceSpans).toHaveLength(2);
    expect(threaded.requests[0]!.raw).toContain('"droppedAttributesCount":2');
    expect(threaded.requests[0]!.raw).toContain('vendor=abc,other=1');
  });

  test('reports a refused export as failed, with the reason, and goes on exporting', async () => {
    await using refusing = await startOtlpReceiver(400);
    const exporter = new ThreadSpanExporter({ url: `${refusing.url}/v1/traces` });
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

  test('shutdown waits for the exports in flight, then refuses new ones', async () => {
    await using receiver = await startOtlpReceiver();
    const exporter = new ThreadSpanExporter({ url: `${receiver.url}/v1/traces` });
    const results = Array.from({ length: 5 }, () => exportOnce(exporter, varietyOfSpans()));
    await exporter.shutdown();
    expect(receiver.requests).toHaveLength(5);
    for (const r of await Promise.all(results)) expect(r.code).toBe(ExportResultCode.SUCCESS);
    const late = await exportOnce(exporter, varietyOfSpans());
    expect(late.code).toBe(ExportResultCode.FAILED);
    expect(late.error?.message).toMatch(/shut down/);
  });

  test('forceFlush resolves once every posted export has its outcome', async () => {
    await using receiver = await startOtlpReceiver();
    const exporter = new ThreadSpanExporter({ url: `${receiver.url}/v1/traces` });
    try {
      const outcomes: ExportResult[] = [];
      for (let i = 0; i < 3; i++) exporter.export(varietyOfSpans(), (r) => outcomes.push(r));
      await exporter.forceFlush();
      expect(outcomes).toHaveLength(3);
      expect(receiver.requests).toHaveLength(3);
    } finally {
      await exporter.shutdown();
    }
  });

  test('a thread that cannot start fails each export with why, at once, and shuts down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-thread-exporter-'));
    try {
      const broken = join(dir, 'broken.cjs');
      writeFileSync(broken, "throw new Error('exporter module is broken');\n");
      const exporter = new ThreadSpanExporter({
        url: 'http://127.0.0.1:9/v1/traces',
        exporterModule: broken,
      });
      const first = await exportOnce(exporter, varietyOfSpans());
      expect(first.code).toBe(ExportResultCode.FAILED);
      expect(first.error?.message).toMatch(/span export thread failed: exporter module is broken/);
      const second = await exportOnce(exporter, varietyOfSpans());
      expect(second.error?.message).toBe(first.error?.message);
      await exporter.shutdown();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.runIf(process.platform === 'linux')(
    'runs its thread at the nice value given, leaving the event loop at its own',
    async () => {
      await using receiver = await startOtlpReceiver();
      const mainNice = getPriority();
      const before = threadsAtNice(7);
      const exporter = new ThreadSpanExporter({ url: `${receiver.url}/v1/traces`, nice: 7 });
      try {
        expect((await exportOnce(exporter, varietyOfSpans())).code).toBe(ExportResultCode.SUCCESS);
        expect(threadsAtNice(7)).toBe(before + 1);
        expect(getPriority()).toBe(mainNice);
      } finally {
        await exporter.shutdown();
      }
    },
  );

  test('a batch it cannot encode fails on its own', async () => {
    const exporter = new ThreadSpanExporter({ url: 'http://127.0.0.1:9/v1/traces' });
    const [span] = varietyOfSpans();
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const bad = Object.assign(Object.create(span!) as ReadableSpan, { attributes: cyclic });
    const result = await exportOnce(exporter, [bad]);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toMatch(/circular/i);
    await exporter.shutdown();
  });
});
