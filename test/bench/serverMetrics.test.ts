import { createTracewireMetrics, startTelemetry } from '@tracewire/otel';
import { expect, test } from 'vitest';
import { spansSkippedFrom } from '../../bench/src/serverMetrics.js';

test('the bench reads the skipped-span count as the Prometheus exporter writes it: absent, small, millions', async () => {
  const telemetry = startTelemetry({
    serviceName: 'bench-metrics-test',
    registerGlobals: false,
    env: { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' },
  });
  try {
    expect(spansSkippedFrom(await telemetry.renderMetrics())).toBe(0);
    const metrics = createTracewireMetrics(telemetry.meterProvider.getMeter('test'));
    metrics.eventSpansSkipped.add(7);
    expect(spansSkippedFrom(await telemetry.renderMetrics())).toBe(7);
    metrics.eventSpansSkipped.add(3_416_397);
    const text = await telemetry.renderMetrics();
    expect(spansSkippedFrom(text)).toBe(3_416_404);
  } finally {
    await telemetry.shutdown();
  }
});
