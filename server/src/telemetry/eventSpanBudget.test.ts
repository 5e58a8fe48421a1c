import { createTracewireMetrics, startTelemetry } from '@tracewire/otel';
import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { createEventSpanBudget } from './eventSpanBudget.js';

const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const skippedIn = (text: string) =>
  Number(/^tracewire_events_spans_skipped_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? NaN);

describe('event span budget', () => {
  test('grants a burst of perSecond spans, then refuses and counts what it refused', async () => {
    const telemetry = startTelemetry({ env: {}, registerGlobals: false });
    try {
      const metrics = createTracewireMetrics(telemetry.meterProvider.getMeter('t'));
      const budget = createEventSpanBudget({ perSecond: 3, metrics });
      const granted = Array.from({ length: 5 }, () => budget.take());
      expect(granted).toEqual([true, true, true, false, false]);
      await endOfTurn();
      expect(skippedIn(await telemetry.renderMetrics())).toBe(2);
      // Refilled at perSecond: after ~400 ms at 3/s, one more span is granted.
      await new Promise((r) => setTimeout(r, 400));
      expect(budget.take()).toBe(true);
    } finally {
      await telemetry.shutdown();
    }
  });

  test('0 per second: no event gets a span of its own', async () => {
    const telemetry = startTelemetry({ env: {}, registerGlobals: false });
    try {
      const metrics = createTracewireMetrics(telemetry.meterProvider.getMeter('t'));
      const budget = createEventSpanBudget({ perSecond: 0, metrics });
      expect([budget.take(), budget.take()]).toEqual([false, false]);
      await endOfTurn();
      expect(skippedIn(await telemetry.renderMetrics())).toBe(2);
    } finally {
      await telemetry.shutdown();
    }
  });

  test('works without metrics', () => {
    const budget = createEventSpanBudget({ perSecond: 1 });
    expect([budget.take(), budget.take()]).toEqual([true, false]);
  });

  test('TRACEWIRE_OTLP_EXPORT_THREAD: off by default, true/1 and false/0, anything else refused', () => {
    expect(loadConfig({}).otlpExportThread).toBe(false);
    expect(loadConfig({ TRACEWIRE_OTLP_EXPORT_THREAD: 'true' }).otlpExportThread).toBe(true);
    expect(loadConfig({ TRACEWIRE_OTLP_EXPORT_THREAD: '1' }).otlpExportThread).toBe(true);
    expect(loadConfig({ TRACEWIRE_OTLP_EXPORT_THREAD: '0' }).otlpExportThread).toBe(false);
    expect(() => loadConfig({ TRACEWIRE_OTLP_EXPORT_THREAD: 'yes' })).toThrow(
      /TRACEWIRE_OTLP_EXPORT_THREAD/,
    );
  });

  test('TRACEWIRE_EVENT_SPANS_PER_SECOND: 10,000 by default, 0 allowed, anything else refused', () => {
    expect(loadConfig({}).agent.eventSpansPerSecond).toBe(10_000);
    expect(loadConfig({ TRACEWIRE_EVENT_SPANS_PER_SECOND: '0' }).agent.eventSpansPerSecond).toBe(0);
    for (const bad of ['-1', '1.5', 'lots'])
      expect(() => loadConfig({ TRACEWIRE_EVENT_SPANS_PER_SECOND: bad })).toThrow(ConfigError);
  });
});
