/**
 * @module
 * `@tracewire/otel`: OpenTelemetry for tRPC v11 — the `_meta` carrier, server middleware, client
 * link, PRODUCER/agent/tool spans, metrics, log correlation and the Node provider setup.
 *
 * Browser-safe parts (client link, meta, names) import only `@opentelemetry/api`, tRPC and
 * `@tracewire/shared`; `startTelemetry` (Node) is tree-shaken away when unused.
 */
export {
  ATTR_APP_REQUEST_ID,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_NETWORK_PROTOCOL_NAME,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_TRACEWIRE_EVENT_TYPE,
  ATTR_TRACEWIRE_LIMIT_NAME,
  ATTR_TRACEWIRE_RESYNC_REASON,
  ATTR_TRACEWIRE_RUN_ID,
  ATTR_TRACEWIRE_RUN_OUTCOME,
  ATTR_USER_ID,
  INSTRUMENTATION_SCOPE,
  METRIC_NAMES,
  RPC_STATUS_OK,
  RPC_SYSTEM_TRPC,
  SPAN_PROCESS_EVENTS,
  SPAN_SEND_EVENTS,
} from './semconv.js';
export {
  META_FIELD,
  encodeTraceContext,
  extractMeta,
  injectMeta,
  isMetaCarrier,
  parseCallMeta,
  readMeta,
  spanContextFromMeta,
  stripMeta,
  withMeta,
} from './meta.js';
export {
  captureTraceContext,
  errorTypeOf,
  getTracewireTracer,
  recordSpanError,
  runInTraceContext,
} from './tracing.js';
export {
  DEFAULT_MAX_SUBSCRIPTION_SPAN_MS,
  createTracingMiddleware,
  isServerFault,
} from './serverMiddleware.js';
export type {
  MiddlewareResultLike,
  TracewireTransport,
  TracingMiddlewareCall,
  TracingMiddlewareOptions,
} from './serverMiddleware.js';
export { bindActiveContext, createSegmentedSpan, traceAsyncIterable } from './segmentedSpan.js';
export type { SegmentedSpan, SegmentedSpanOptions } from './segmentedSpan.js';
export {
  REQUEST_ID_CONTEXT_KEY,
  createTracingLink,
  getOperationRequestId,
  splitEventMeta,
} from './clientLink.js';
export type { TracingLinkOptions } from './clientLink.js';
export { startProducerSpan, withEventProducer } from './producer.js';
export type { EventSpanBudget, ProducedEvent, ProducerSpanOptions } from './producer.js';
export { withAgentSpan, withToolSpan } from './agentSpans.js';
export { createGenAiMetrics, withModelCall } from './modelSpans.js';
export type { GenAiMetrics, ModelCall, ModelRequestInfo, ModelResponseInfo } from './modelSpans.js';
export type { AgentSpanOptions } from './agentSpans.js';
export { createTracewireMetrics } from './metrics.js';
export type {
  EventAttributes,
  LimitAttributes,
  ResyncAttributes,
  RpcCallAttributes,
  RunAttributes,
  ToolAttributes,
  TracewireMetrics,
  TransportAttributes,
} from './metrics.js';
export { traceLogMixin } from './logging.js';
export type { TraceLogFields } from './logging.js';
export { PROMETHEUS_CONTENT_TYPE, startTelemetry } from './setup.js';
export type { Telemetry, TelemetryOptions } from './setup.js';
export {
  SAMPLER_NAMES,
  parseResourceAttributes,
  resolveTelemetryConfig,
} from './telemetryConfig.js';
export type {
  SamplerName,
  TelemetryConfig,
  TelemetryConfigInput,
  TelemetryEnv,
  TelemetryLogger,
} from './telemetryConfig.js';
