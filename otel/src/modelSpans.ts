/**
 * GenAI model calls: a `chat {model}` CLIENT span per call to a model endpoint (under the
 * active `invoke_agent` span), and the `gen_ai.client.*` metrics. Only `@opentelemetry/api`.
 * @module
 */
import type { Attributes, Histogram, Meter, Span } from '@opentelemetry/api';
import { SpanKind, context, trace } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_TOKEN_TYPE,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  GEN_AI_OPERATION_CHAT,
  METRIC_NAMES,
  chatSpanName,
} from './semconv.js';
import { errorTypeOf, getTracewireTracer, recordSpanError } from './tracing.js';

/** What a model call asks for. */
export interface ModelRequestInfo {
  /** `gen_ai.provider.name`; `openai` for any OpenAI-compatible endpoint (semconv's advice). */
  provider: string;
  model: string;
  /** The endpoint's URL (host and port become `server.address` / `server.port`). */
  baseUrl: string;
  maxTokens?: number | undefined;
  temperature?: number | undefined;
}

/** What a model call answered (every field may be missing: servers differ). */
export interface ModelResponseInfo {
  id?: string | undefined;
  model?: string | undefined;
  finishReasons?: readonly string[] | undefined;
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
}

/** The `gen_ai.client.*` histograms. */
export interface GenAiMetrics {
  /** Tokens per call, by `gen_ai.token.type` (`input` / `output`). */
  tokenUsage: Histogram;
  /** Duration of each model call in seconds (failed calls carry `error.type`). */
  operationDuration: Histogram;
}

// Bucket boundaries advised by the GenAI semantic conventions.
const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/** Creates the GenAI client histograms on `meter`. */
export function createGenAiMetrics(meter: Meter): GenAiMetrics {
  return {
    tokenUsage: meter.createHistogram(METRIC_NAMES.genAiTokenUsage, {
      description: 'Number of input and output tokens used',
      unit: '{token}',
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    }),
    operationDuration: meter.createHistogram(METRIC_NAMES.genAiOperationDuration, {
      description: 'GenAI operation duration',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
  };
}

function endpointAttributes(baseUrl: string): Attributes {
  try {
    const url = new URL(baseUrl);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    return { [ATTR_SERVER_ADDRESS]: url.hostname, [ATTR_SERVER_PORT]: port };
  } catch {
    return {};
  }
}

/** One model call in progress: record its response, then end it exactly once. */
export interface ModelCall {
  readonly span: Span;
  /** Sets the response attributes (id, model, finish reasons, usage). */
  response(info: ModelResponseInfo): void;
  /** Ends the span and records the metrics; `error` marks it failed with `error.type`. */
  end(error?: unknown): void;
}

/**
 * Starts the `chat {model}` CLIENT span of one model call as a child of the active span, and
 * runs `fn` with it active (events emitted while the answer streams nest under it). The call
 * is ended by `fn` through the handle, or here when `fn` throws.
 */
export async function withModelCall<T>(
  request: ModelRequestInfo,
  metrics: GenAiMetrics | undefined,
  fn: (call: ModelCall) => Promise<T>,
): Promise<T> {
  const base: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_CHAT,
    [ATTR_GEN_AI_PROVIDER_NAME]: request.provider,
    [ATTR_GEN_AI_REQUEST_MODEL]: request.model,
    ...endpointAttributes(request.baseUrl),
  };
  const span = getTracewireTracer().startSpan(chatSpanName(request.model), {
    kind: SpanKind.CLIENT,
    attributes: {
      ...base,
      ...(request.maxTokens ? { [ATTR_GEN_AI_REQUEST_MAX_TOKENS]: request.maxTokens } : {}),
      ...(request.temperature !== undefined
        ? { [ATTR_GEN_AI_REQUEST_TEMPERATURE]: request.temperature }
        : {}),
    },
  });
  const startedAt = performance.now();
  let responseModel: string | undefined;
  let usage: { input?: number | undefined; output?: number | undefined } = {};
  let ended = false;
  const call: ModelCall = {
    span,
    response(info) {
      if (info.id) span.setAttribute(ATTR_GEN_AI_RESPONSE_ID, info.id);
      if (info.model) span.setAttribute(ATTR_GEN_AI_RESPONSE_MODEL, (responseModel = info.model));
      if (info.finishReasons)
        span.setAttribute(ATTR_GEN_AI_RESPONSE_FINISH_REASONS, [...info.finishReasons]);
      if (info.inputTokens !== undefined)
        span.setAttribute(ATTR_GEN_AI_USAGE_INPUT_TOKENS, info.inputTokens);
      if (info.outputTokens !== undefined)
        span.setAttribute(ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, info.outputTokens);
      usage = { input: info.inputTokens, output: info.outputTokens };
    },
    end(error) {
      if (ended) return;
      ended = true;
      const attributes: Attributes = {
        ...base,
        ...(responseModel ? { [ATTR_GEN_AI_RESPONSE_MODEL]: responseModel } : {}),
      };
      if (error !== undefined) recordSpanError(span, error);
      metrics?.operationDuration.record((performance.now() - startedAt) / 1000, {
        ...attributes,
        ...(error !== undefined ? { [ATTR_ERROR_TYPE]: errorTypeOf(error) } : {}),
      });
      if (usage.input !== undefined)
        metrics?.tokenUsage.record(usage.input, {
          ...attributes,
          [ATTR_GEN_AI_TOKEN_TYPE]: 'input',
        });
      if (usage.output !== undefined)
        metrics?.tokenUsage.record(usage.output, {
          ...attributes,
          [ATTR_GEN_AI_TOKEN_TYPE]: 'output',
        });
      span.end();
    },
  };
  try {
    return await context.with(trace.setSpan(context.active(), span), () => fn(call));
  } catch (error) {
    call.end(error);
    throw error;
  } finally {
    call.end();
  }
}
