import { describe, expect, test } from 'vitest';
import { parseResourceAttributes, resolveTelemetryConfig } from './telemetryConfig.js';

describe('resolveTelemetryConfig', () => {
  test('exports nothing and samples everything by default', () => {
    const c = resolveTelemetryConfig({ env: {}, serviceName: 'svc' });
    expect(c).toMatchObject({
      tracesUrl: undefined,
      metricsUrl: undefined,
      consoleTraces: false,
      sampler: 'parentbased_traceidratio',
      ratio: 1,
      serviceName: 'svc',
      tracingDisabled: false,
    });
  });

  test('derives per-signal OTLP URLs from OTEL_EXPORTER_OTLP_ENDPOINT, specific endpoints winning', () => {
    const c = resolveTelemetryConfig({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m/x',
      },
    });
    expect(c.tracesUrl).toBe('http://jaeger:4318/v1/traces');
    expect(c.metricsUrl).toBe('http://m/x');
  });

  test('honours OTEL_TRACES_EXPORTER none, console and otlp without endpoint', () => {
    expect(
      resolveTelemetryConfig({
        env: { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a' },
      }).tracesUrl,
    ).toBeUndefined();
    const both = resolveTelemetryConfig({ env: { OTEL_TRACES_EXPORTER: 'console, otlp' } });
    expect(both.consoleTraces).toBe(true);
    expect(both.tracesUrl).toBe('http://localhost:4318/v1/traces');
  });

  test('reads the sampler and ratio, falling back with a warning on bad values', () => {
    expect(resolveTelemetryConfig({ env: { OTEL_TRACES_SAMPLER: 'always_off' } }).sampler).toBe(
      'always_off',
    );
    expect(
      resolveTelemetryConfig({ env: { OTEL_TRACES_SAMPLER_ARG: '0.1' }, sampleRatio: 0.5 }).ratio,
    ).toBe(0.1);
    expect(resolveTelemetryConfig({ env: {}, sampleRatio: 0.5 }).ratio).toBe(0.5);
    const warnings: string[] = [];
    const logger = { warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
    const c = resolveTelemetryConfig({
      env: { OTEL_TRACES_SAMPLER: 'bogus', OTEL_TRACES_SAMPLER_ARG: '7' },
      logger,
    });
    expect(c).toMatchObject({ sampler: 'parentbased_traceidratio', ratio: 1 });
    expect(warnings).toHaveLength(2);
  });

  test('reads OTEL_BSP_*, with the spec defaults, and falls back with a warning on bad values', () => {
    expect(resolveTelemetryConfig({ env: {} }).batch).toEqual({
      scheduledDelayMillis: 5_000,
      exportTimeoutMillis: 30_000,
      maxQueueSize: 2_048,
      maxExportBatchSize: 512,
    });
    expect(
      resolveTelemetryConfig({
        env: {
          OTEL_BSP_SCHEDULE_DELAY: '200',
          OTEL_BSP_EXPORT_TIMEOUT: '1000',
          OTEL_BSP_MAX_QUEUE_SIZE: '65536',
          OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1024',
        },
      }).batch,
    ).toEqual({
      scheduledDelayMillis: 200,
      exportTimeoutMillis: 1_000,
      maxQueueSize: 65_536,
      maxExportBatchSize: 1_024,
    });
    // A queue below the default batch size takes the batch size down with it, silently.
    expect(resolveTelemetryConfig({ env: { OTEL_BSP_MAX_QUEUE_SIZE: '100' } }).batch).toMatchObject(
      { maxQueueSize: 100, maxExportBatchSize: 100 },
    );
    const warnings: string[] = [];
    const logger = { warn: (_o: object, msg?: string) => void warnings.push(msg ?? '') };
    const c = resolveTelemetryConfig({
      env: {
        OTEL_BSP_SCHEDULE_DELAY: 'soon',
        OTEL_BSP_EXPORT_TIMEOUT: '-1',
        OTEL_BSP_MAX_QUEUE_SIZE: '0',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4096',
      },
      logger,
    });
    expect(c.batch).toEqual({
      scheduledDelayMillis: 5_000,
      exportTimeoutMillis: 30_000,
      maxQueueSize: 2_048,
      maxExportBatchSize: 2_048,
    });
    expect(warnings).toEqual([
      'OTEL_BSP_MAX_QUEUE_SIZE=0 is not an integer ≥ 1; using 2048',
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096 exceeds the queue size; using 2048',
      'OTEL_BSP_SCHEDULE_DELAY=soon is not an integer ≥ 0; using 5000',
      'OTEL_BSP_EXPORT_TIMEOUT=-1 is not an integer ≥ 0; using 30000',
    ]);
  });

  test('lets OTEL_SERVICE_NAME override the code default and reads OTEL_SDK_DISABLED', () => {
    const c = resolveTelemetryConfig({
      env: { OTEL_SERVICE_NAME: 'ops-name', OTEL_SDK_DISABLED: 'TRUE' },
      serviceName: 'code',
    });
    expect(c.serviceName).toBe('ops-name');
    expect(c.tracingDisabled).toBe(true);
  });

  test('parses OTEL_RESOURCE_ATTRIBUTES with percent-encoding and skips bad pairs', () => {
    expect(parseResourceAttributes('deployment.environment=dev,team=a%20b,bad,=x')).toEqual({
      'deployment.environment': 'dev',
      team: 'a b',
    });
  });
  test('exportThread: off unless asked for', () => {
    expect(resolveTelemetryConfig({ env: {} }).exportThread).toBe(false);
    expect(resolveTelemetryConfig({ env: {}, exportThread: true }).exportThread).toBe(true);
  });
});
