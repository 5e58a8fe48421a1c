import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, test } from 'vitest';
import { startOtlpReceiver } from './__tests__/otlpReceiver.js';
import { describeSpanExporterContract } from './__tests__/spanExporterContract.js';
import { exportOnce, varietyOfSpans } from './__tests__/spanVariety.js';
import { threadsAtNice } from './__tests__/threadNice.js';
import { ThreadSpanExporter } from './threadSpanExporter.js';

describeSpanExporterContract('ThreadSpanExporter', (url) => new ThreadSpanExporter({ url }));

describe('ThreadSpanExporter', () => {
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
