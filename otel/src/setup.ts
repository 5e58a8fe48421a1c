/**
 * Node provider setup: one call wires tracing (resource, sampler, batch OTLP/HTTP JSON export,
 * ALS context manager, W3C propagators) and metrics (Prometheus text for the server's own
 * `/metrics` route, plus OTLP push when configured). Node only; the browser SDK never imports it
 * at runtime (it imports only the link, meta and names).
 * @module
 */
import type { DiagLogger, TracerProvider } from '@opentelemetry/api';
import { DiagLogLevel, context, diag, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { Sampler, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from './semconv.js';
import { SlicedSpanExporter } from './slicedSpanExporter.js';
import { resolveTelemetryConfig } from './telemetryConfig.js';
import { ThreadSpanExporter } from './threadSpanExporter.js';
import type {
  SamplerName,
  TelemetryConfig,
  TelemetryConfigInput,
  TelemetryLogger,
} from './telemetryConfig.js';

/** Content type of {@link Telemetry.renderMetrics} output (Prometheus text format 0.0.4). */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Options of {@link startTelemetry}. */
export interface TelemetryOptions extends TelemetryConfigInput {
  /** Extra span processors (tests: `SimpleSpanProcessor` + `InMemorySpanExporter`). */
  spanProcessors?: SpanProcessor[];
  /** Extra metric readers. */
  metricReaders?: IMetricReader[];
  /** Register the providers, ALS context manager and W3C propagators globally. @default true */
  registerGlobals?: boolean;
}

/** What {@link startTelemetry} returns. */
export interface Telemetry {
  /** The SDK provider, or the API's no-op provider when tracing is disabled. */
  tracerProvider: TracerProvider;
  meterProvider: MeterProvider;
  /** The settings in effect (endpoints, sampler, service name). */
  config: TelemetryConfig;
  /** Current metrics in Prometheus text format, for the server's `/metrics` route. */
  renderMetrics(): Promise<string>;
  /** Exports buffered spans and metrics now. */
  forceFlush(): Promise<void>;
  /** Flushes and stops everything and unregisters the globals it set; safe to call twice. */
  shutdown(): Promise<void>;
}

function createSampler(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/**
 * The export processors. No SDK self-observability meter: under a flood it records a metric
 * for every dropped span, and measured in the bench (S1) that cost 10–25 % of the throughput
 * just when the server is already behind. Drops are logged with their count instead. OTLP
 * batches are serialised in slices between I/O (`SlicedSpanExporter`), or with `exportThread`
 * serialised and sent on a worker thread (`ThreadSpanExporter`).
 */
function createSpanProcessors(config: TelemetryConfig, extra: SpanProcessor[]): SpanProcessor[] {
  const out: SpanProcessor[] = [];
  if (config.tracesUrl)
    out.push(
      new BatchSpanProcessor(
        config.exportThread
          ? new ThreadSpanExporter({ url: config.tracesUrl })
          : new SlicedSpanExporter({ url: config.tracesUrl }),
        config.batch,
      ),
    );
  if (config.consoleTraces)
    out.push(new BatchSpanProcessor(new ConsoleSpanExporter(), config.batch));
  return [...out, ...extra];
}

/** Forwards the SDK's own warnings and errors (dropped spans, failed exports) to `logger`. */
function diagLogger(logger: TelemetryLogger): DiagLogger {
  // Typed as strings, but an Error may come through (the API does not check): log it as `err`.
  const warn = (msg: unknown, ...args: unknown[]) =>
    msg instanceof Error
      ? logger.warn({ component: 'otel', err: msg }, msg.message)
      : logger.warn({ component: 'otel', ...(args.length ? { args } : {}) }, String(msg));
  const ignore = () => undefined;
  return { error: warn, warn, info: ignore, debug: ignore, verbose: ignore };
}

/**
 * Starts telemetry for a Node process.
 * @example
 * const telemetry = startTelemetry({ serviceName: 'tracewire-server', serviceVersion: '0.1.0' });
 * process.on('SIGTERM', () => void telemetry.shutdown());
 */
export function startTelemetry(options: TelemetryOptions = {}): Telemetry {
  const config = resolveTelemetryConfig(options);
  const resource = defaultResource().merge(
    resourceFromAttributes({
      ...config.resourceAttributes,
      [ATTR_SERVICE_NAME]: config.serviceName,
      ...(options.serviceVersion ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
    }),
  );
  const register = options.registerGlobals ?? true;
  const undo: Array<() => void> = [];

  let sdkTracer: NodeTracerProvider | undefined;
  if (!config.tracingDisabled) {
    sdkTracer = new NodeTracerProvider({
      resource,
      sampler: createSampler(config.sampler, config.ratio),
      spanProcessors: createSpanProcessors(config, options.spanProcessors ?? []),
    });
    if (register) {
      if (context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()))
        undo.push(() => context.disable());
      const propagator = new CompositePropagator({
        propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
      });
      if (propagation.setGlobalPropagator(propagator)) undo.push(() => propagation.disable());
      if (trace.setGlobalTracerProvider(sdkTracer)) undo.push(() => trace.disable());
    }
  }

  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: IMetricReader[] = [prometheus, ...(options.metricReaders ?? [])];
  if (config.metricsUrl && !config.tracingDisabled) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: config.metricsUrl }),
        exportIntervalMillis: config.metricExportIntervalMs,
      }),
    );
  }
  const meterProvider = new MeterProvider({ resource, readers });
  if (register && metrics.setGlobalMeterProvider(meterProvider)) undo.push(() => metrics.disable());

  // After the providers are built: the SDK's constructors re-read OTEL_TRACES_SAMPLER and
  // would warn about a bad value with a sampler we do not use (ours warned with the right one).
  if (register && options.logger) {
    const logged = diag.setLogger(diagLogger(options.logger), {
      logLevel: DiagLogLevel.WARN,
      suppressOverrideMessage: true,
    });
    if (logged) undo.push(() => diag.disable());
  }

  const serializer = new PrometheusSerializer();

  let stopping: Promise<void> | undefined;
  return {
    tracerProvider: sdkTracer ?? trace.getTracerProvider(),
    meterProvider,
    config,
    async renderMetrics() {
      const { resourceMetrics } = await prometheus.collect();
      return serializer.serialize(resourceMetrics);
    },
    async forceFlush() {
      await Promise.all([sdkTracer?.forceFlush(), meterProvider.forceFlush()]);
    },
    shutdown() {
      stopping ??= (async () => {
        const results = await Promise.allSettled([sdkTracer?.shutdown(), meterProvider.shutdown()]);
        for (const fn of undo.reverse()) fn();
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return stopping;
    },
  };
}
