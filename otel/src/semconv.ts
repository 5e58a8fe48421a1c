/**
 * Attribute, span and instrument names used by Tracewire telemetry.
 *
 * Incubating OpenTelemetry names (RPC, messaging, GenAI, user) are copied here on purpose: the
 * semantic-conventions README asks instrumentations not to import `/incubating` at runtime, and
 * a local copy keeps this file free of any dependency (the browser SDK imports it).
 * @module
 */

/** Instrumentation scope name for every tracer and meter this package creates. */
export const INSTRUMENTATION_SCOPE = '@tracewire/otel';
/** Instrumentation scope version (kept in step with package.json). */
export const INSTRUMENTATION_VERSION = '0.1.0';

// RPC (semconv rpc-spans, release candidate)
/** RPC system; always {@link RPC_SYSTEM_TRPC} here. */
export const ATTR_RPC_SYSTEM_NAME = 'rpc.system.name';
/** Value of `rpc.system.name` ("a custom value MAY be used"). */
export const RPC_SYSTEM_TRPC = 'trpc';
/** Fully-qualified method: the tRPC path, e.g. `chat.send`. */
export const ATTR_RPC_METHOD = 'rpc.method';
/** Result code: `OK` or the tRPC error code (e.g. `UNAUTHORIZED`). */
export const ATTR_RPC_STATUS_CODE = 'rpc.status_code';
/** tRPC procedure type (`query`, `mutation`, `subscription`); not a semconv name. */
export const ATTR_TRPC_PROCEDURE_TYPE = 'trpc.procedure.type';
/** Value of `rpc.status_code` for a successful call. */
export const RPC_STATUS_OK = 'OK';

// General
/** Error class of a failed operation (the tRPC/app code when known). */
export const ATTR_ERROR_TYPE = 'error.type';
/** Verified user id (from the token, never from the client's baggage). */
export const ATTR_USER_ID = 'user.id';
/** Per-call correlation id, also in logs and error responses. */
export const ATTR_APP_REQUEST_ID = 'app.request_id';
/** Transport: `websocket` or `http` (MCP semconv transport table). */
export const ATTR_NETWORK_PROTOCOL_NAME = 'network.protocol.name';
/** Service name resource attribute. */
export const ATTR_SERVICE_NAME = 'service.name';
/** Service version resource attribute. */
export const ATTR_SERVICE_VERSION = 'service.version';

// GenAI agents and tools (semantic-conventions-genai)
/** GenAI operation: `invoke_agent` or `execute_tool`. */
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
/** Agent name on `invoke_agent` spans. */
export const ATTR_GEN_AI_AGENT_NAME = 'gen_ai.agent.name';
/** Conversation id (the thread id) on agent spans. */
export const ATTR_GEN_AI_CONVERSATION_ID = 'gen_ai.conversation.id';
/** Tool name on `execute_tool` spans. */
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
/** Tool call id on `execute_tool` spans. */
export const ATTR_GEN_AI_TOOL_CALL_ID = 'gen_ai.tool.call.id';
/** `gen_ai.operation.name` value for agent runs. */
export const GEN_AI_OPERATION_INVOKE_AGENT = 'invoke_agent';
/** `gen_ai.operation.name` value for tool calls. */
export const GEN_AI_OPERATION_EXECUTE_TOOL = 'execute_tool';

// GenAI model calls (semantic-conventions-genai: inference spans and client metrics)
/** `gen_ai.operation.name` value for a chat completion. */
export const GEN_AI_OPERATION_CHAT = 'chat';
/** The provider as the client knows it (`openai` for any OpenAI-compatible API). */
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
/** Model asked for. */
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
/** `max_tokens` asked for. */
export const ATTR_GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
/** Temperature asked for. */
export const ATTR_GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
/** Response id (`chatcmpl-…`). */
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
/** Model that answered. */
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
/** Finish reasons, one per choice. */
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
/** Prompt tokens. */
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
/** Completion tokens. */
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
/** `input` or `output` on `gen_ai.client.token.usage`. */
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
/** Prompt messages as JSON (opt-in: content). */
export const ATTR_GEN_AI_INPUT_MESSAGES = 'gen_ai.input.messages';
/** Completion messages as JSON (opt-in: content). */
export const ATTR_GEN_AI_OUTPUT_MESSAGES = 'gen_ai.output.messages';
/** Host of the model endpoint. */
export const ATTR_SERVER_ADDRESS = 'server.address';
/** Port of the model endpoint. */
export const ATTR_SERVER_PORT = 'server.port';
/** `chat {model}` span name. */
export const chatSpanName = (model: string): string => `${GEN_AI_OPERATION_CHAT} ${model}`;

// Messaging (semconv messaging-spans, development) for streamed agent events
/** Messaging system; `tracewire` (custom). */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
/** Operation type: `send` (PRODUCER) or `process` (CONSUMER). */
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
/** Operation name, the first word of the span name. */
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
/** Destination: the thread id whose stream the event belongs to. */
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
/** Low-cardinality destination template used in span names: {@link EVENTS_DESTINATION}. */
export const ATTR_MESSAGING_DESTINATION_TEMPLATE = 'messaging.destination.template';
/** Message id: the event's `seq` (or tracked id on the client). */
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
/** Value of `messaging.system`. */
export const MESSAGING_SYSTEM_TRACEWIRE = 'tracewire';
/** Destination template for agent events (thread ids are too many for span names). */
export const EVENTS_DESTINATION = 'agent.events';

// Tracewire-specific attributes
/** Agent event type (`message_delta`, ...). */
export const ATTR_TRACEWIRE_EVENT_TYPE = 'tracewire.event.type';
/** Run id on agent spans. */
export const ATTR_TRACEWIRE_RUN_ID = 'tracewire.run.id';
/** How a run ended: `completed` or an agent error code. */
export const ATTR_TRACEWIRE_RUN_OUTCOME = 'tracewire.run.outcome';
/** Name of the limit that refused a call (`max_connections`, `rate`, ...). */
export const ATTR_TRACEWIRE_LIMIT_NAME = 'tracewire.limit.name';
/** Why a stream was resynced (`expired`, `epoch_changed`, ...). */
export const ATTR_TRACEWIRE_RESYNC_REASON = 'tracewire.resync.reason';
/** Sequence number of a capped subscription span (1 for the first). */
export const ATTR_TRACEWIRE_SPAN_SEGMENT = 'tracewire.span.segment';

// Span names
/** PRODUCER span name for a published event. */
export const SPAN_SEND_EVENTS = `send ${EVENTS_DESTINATION}`;
/** CONSUMER span name for a received event. */
export const SPAN_PROCESS_EVENTS = `process ${EVENTS_DESTINATION}`;
/** `invoke_agent {name}` span name. */
export const agentSpanName = (agent: string): string => `${GEN_AI_OPERATION_INVOKE_AGENT} ${agent}`;
/** `execute_tool {tool}` span name. */
export const toolSpanName = (tool: string): string => `${GEN_AI_OPERATION_EXECUTE_TOOL} ${tool}`;

// Instrument names
/** Metric instrument names (OTel naming: dotted namespaces, snake_case words). */
export const METRIC_NAMES = {
  rpcServerCallDuration: 'rpc.server.call.duration',
  connectionsActive: 'tracewire.connections.active',
  subscriptionsActive: 'tracewire.subscriptions.active',
  eventsPublished: 'tracewire.events.published',
  eventSpansSkipped: 'tracewire.events.spans_skipped',
  eventsDelivered: 'tracewire.events.delivered',
  eventsDeliveryLag: 'tracewire.events.delivery_lag',
  connectionQueuedBytes: 'tracewire.connection.queued_bytes',
  slowConsumerDisconnects: 'tracewire.connections.slow_consumer_disconnects',
  subscriptionResumes: 'tracewire.subscriptions.resumes',
  subscriptionResyncs: 'tracewire.subscriptions.resyncs',
  runDuration: 'tracewire.runs.duration',
  toolDuration: 'tracewire.tools.duration',
  toolFailures: 'tracewire.tools.failures',
  limitRefusals: 'tracewire.limits.refusals',
  genAiTokenUsage: 'gen_ai.client.token.usage',
  genAiOperationDuration: 'gen_ai.client.operation.duration',
} as const;
