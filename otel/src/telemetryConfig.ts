/**
 * Resolves telemetry settings from options and the standard `OTEL_*` variables (read from an
 * injectable `env`, so tests never touch `process.env`). Pure: builds nothing.
 * @module
 */

/** Environment variables, as in `process.env`. */
export type TelemetryEnv = Readonly<Record<string, string | undefined>>;

/** Minimal logger (pino-compatible) for configuration warnings. */
export interface TelemetryLogger {
  warn(obj: object, msg?: string): void;
}

/** Sampler names of the `OTEL_TRACES_SAMPLER` spec. */
export const SAMPLER_NAMES = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
/** One of {@link SAMPLER_NAMES}. */
export type SamplerName = (typeof SAMPLER_NAMES)[number];

/** Inputs of {@link resolveTelemetryConfig}. */
export interface TelemetryConfigInput {
  /** Default `service.name`; `OTEL_SERVICE_NAME` wins so operators can rename. @default 'tracewire' */
  serviceName?: string;
  /** `service.version`. */
  serviceVersion?: string;
  /** Ratio of the default `parentbased_traceidratio` sampler when `OTEL_TRACES_SAMPLER_ARG` is unset. @default 1 */
  sampleRatio?: number;
  /** Variables to read. @default process.env */
  env?: TelemetryEnv;
  /**
   * Serialise and send OTLP span batches on a worker thread instead of the event loop: shorter
   * stalls where cores are free, more CPU in all (see `ThreadSpanExporter`). @default false
   */
  exportThread?: boolean;
  logger?: TelemetryLogger;
}

/** Resolved settings. */
export interface TelemetryConfig {
  /** `OTEL_SDK_DISABLED=true`: no tracing (metrics stay local for `/metrics`). */
  tracingDisabled: boolean;
  resourceAttributes: Record<string, string>;
  serviceName: string;
  /** OTLP/HTTP JSON traces URL, or undefined for no OTLP export. */
  tracesUrl: string | undefined;
  /** OTLP/HTTP JSON metrics URL, or undefined for no OTLP metrics push. */
  metricsUrl: string | undefined;
  consoleTraces: boolean;
  sampler: SamplerName;
  ratio: number;
  metricExportIntervalMs: number;
  /**
   * The batch span processor's settings (`OTEL_BSP_*`), read here so the injected env and the
   * checks apply: sdk-trace-base's shim would fall back to `process.env` unchecked.
   */
  batch: BatchSettings;
  /** OTLP batches are serialised and sent on a worker thread (`ThreadSpanExporter`). */
  exportThread: boolean;
}

/** Settings of each batch span processor, as `BatchSpanProcessor` takes them. */
export interface BatchSettings {
  /** `OTEL_BSP_SCHEDULE_DELAY`: ms between exports when the batch is not full. @default 5000 */
  scheduledDelayMillis: number;
  /** `OTEL_BSP_EXPORT_TIMEOUT`: ms before an export is abandoned. @default 30000 */
  exportTimeoutMillis: number;
  /** `OTEL_BSP_MAX_QUEUE_SIZE`: finished spans held for export; spans past it are dropped. @default 2048 */
  maxQueueSize: number;
  /** `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`: spans per export, at most the queue size. @default 512 */
  maxExportBatchSize: number;
}

/** The OTel spec's defaults. */
const BATCH_DEFAULTS: BatchSettings = {
  scheduledDelayMillis: 5_000,
  exportTimeoutMillis: 30_000,
  maxQueueSize: 2_048,
  maxExportBatchSize: 512,
};

const DEFAULT_OTLP_BASE = 'http://localhost:4318';

/** Reports a bad setting through the caller's logger (none: silently, with the default kept). */
const configWarning =
  (input: TelemetryConfigInput) =>
  (msg: string): void =>
    input.logger?.warn({ component: 'otel' }, msg);

const list = (v: string | undefined): string[] | undefined =>
  v === undefined || v.trim() === ''
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean);

const withPath = (base: string, path: string) => `${base.replace(/\/+$/, '')}${path}`;

/** Parses `OTEL_RESOURCE_ATTRIBUTES` (`k=v,k2=v2`, values percent-encoded); bad pairs are skipped. */
export function parseResourceAttributes(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',')) {
    const i = pair.indexOf('=');
    if (i <= 0) continue;
    try {
      out[decodeURIComponent(pair.slice(0, i).trim())] = decodeURIComponent(
        pair.slice(i + 1).trim(),
      );
    } catch {
      // malformed percent-encoding: skip the pair, as the spec's env detector does
    }
  }
  return out;
}

function resolveUrl(
  env: TelemetryEnv,
  signal: 'traces' | 'metrics',
  wanted: string[] | undefined,
): string | undefined {
  const specific = env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`]?.trim();
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim();
  const url = specific || (base ? withPath(base, `/v1/${signal}`) : undefined);
  if (wanted === undefined) return url; // unset: export only when an endpoint is configured
  if (!wanted.includes('otlp')) return undefined;
  return url ?? withPath(DEFAULT_OTLP_BASE, `/v1/${signal}`);
}

function resolveSampler(
  input: TelemetryConfigInput,
  env: TelemetryEnv,
): { sampler: SamplerName; ratio: number } {
  const warn = configWarning(input);
  const rawName = env['OTEL_TRACES_SAMPLER']?.trim().toLowerCase();
  let sampler: SamplerName = 'parentbased_traceidratio';
  if (rawName) {
    if ((SAMPLER_NAMES as readonly string[]).includes(rawName)) sampler = rawName as SamplerName;
    else warn(`OTEL_TRACES_SAMPLER=${rawName} is not supported; using parentbased_traceidratio`);
  }
  let ratio = input.sampleRatio ?? 1;
  const rawArg = env['OTEL_TRACES_SAMPLER_ARG']?.trim();
  if (rawArg) {
    const n = Number(rawArg);
    if (Number.isFinite(n) && n >= 0 && n <= 1) ratio = n;
    else warn(`OTEL_TRACES_SAMPLER_ARG=${rawArg} is not a ratio in [0, 1]; using ${ratio}`);
  }
  return { sampler, ratio: Math.min(1, Math.max(0, ratio)) };
}

/**
 * Reads `OTEL_BSP_*`: operators raise the queue when a busy server drops spans (the SDK
 * drops finished spans past it rather than grow memory). Bad values fall back with a warning.
 */
function resolveBatch(input: TelemetryConfigInput, env: TelemetryEnv): BatchSettings {
  const warn = configWarning(input);
  const read = (name: string, fallback: number, min: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const n = Number(raw);
    if (Number.isSafeInteger(n) && n >= min) return n;
    warn(`${name}=${raw} is not an integer ≥ ${min}; using ${fallback}`);
    return fallback;
  };
  const maxQueueSize = read('OTEL_BSP_MAX_QUEUE_SIZE', BATCH_DEFAULTS.maxQueueSize, 1);
  let maxExportBatchSize = read(
    'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
    Math.min(BATCH_DEFAULTS.maxExportBatchSize, maxQueueSize),
    1,
  );
  if (maxExportBatchSize > maxQueueSize) {
    warn(
      `OTEL_BSP_MAX_EXPORT_BATCH_SIZE=${maxExportBatchSize} exceeds the queue size; using ${maxQueueSize}`,
    );
    maxExportBatchSize = maxQueueSize;
  }
  return {
    scheduledDelayMillis: read('OTEL_BSP_SCHEDULE_DELAY', BATCH_DEFAULTS.scheduledDelayMillis, 0),
    exportTimeoutMillis: read('OTEL_BSP_EXPORT_TIMEOUT', BATCH_DEFAULTS.exportTimeoutMillis, 0),
    maxQueueSize,
    maxExportBatchSize,
  };
}

/** Resolves every setting; unknown or invalid values fall back to defaults with a warning (OTel spec behaviour). */
export function resolveTelemetryConfig(input: TelemetryConfigInput = {}): TelemetryConfig {
  const env = input.env ?? process.env;
  const resourceAttributes = parseResourceAttributes(env['OTEL_RESOURCE_ATTRIBUTES']);
  const serviceName =
    env['OTEL_SERVICE_NAME']?.trim() ||
    resourceAttributes['service.name'] ||
    input.serviceName ||
    'tracewire';
  const traceExporters = list(env['OTEL_TRACES_EXPORTER']);
  const interval = Number(env['OTEL_METRIC_EXPORT_INTERVAL']);
  return {
    tracingDisabled: env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true',
    resourceAttributes,
    serviceName,
    tracesUrl: resolveUrl(env, 'traces', traceExporters),
    metricsUrl: resolveUrl(env, 'metrics', list(env['OTEL_METRICS_EXPORTER'])),
    consoleTraces: traceExporters?.includes('console') ?? false,
    ...resolveSampler(input, env),
    metricExportIntervalMs: Number.isFinite(interval) && interval > 0 ? interval : 60_000,
    batch: resolveBatch(input, env),
    exportThread: input.exportThread ?? false,
  };
}
