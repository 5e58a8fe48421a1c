/**
 * GenAI spans around agent runs and tool calls: `invoke_agent {name}` and `execute_tool {tool}`,
 * both INTERNAL (in-process), made active for `fn` so nested spans and logs join them.
 * Use the global tracer provider (set by `startTelemetry`).
 * @module
 */
import type { Attributes, Context, Span } from '@opentelemetry/api';
import { SpanKind, context } from '@opentelemetry/api';
import {
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_NAME,
  GEN_AI_OPERATION_EXECUTE_TOOL,
  GEN_AI_OPERATION_INVOKE_AGENT,
  agentSpanName,
  toolSpanName,
} from './semconv.js';
import { getTracewireTracer, recordSpanError } from './tracing.js';

/** Extra options of {@link withAgentSpan}. */
export interface AgentSpanOptions {
  /** More attributes, e.g. `gen_ai.conversation.id` (thread id) and `tracewire.run.id`. */
  attributes?: Attributes;
  /** Parent context; the active one when omitted (see `captureTraceContext`). */
  parent?: Context;
}

async function inSpan<T>(
  name: string,
  init: { attributes: Attributes; parent?: Context | undefined },
  fn: (span: Span) => T | Promise<T>,
): Promise<T> {
  const tracer = getTracewireTracer();
  return tracer.startActiveSpan(
    name,
    { kind: SpanKind.INTERNAL, attributes: init.attributes },
    init.parent ?? context.active(),
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        recordSpanError(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** Runs an agent invocation inside an `invoke_agent {name}` span; errors are recorded and rethrown. */
export function withAgentSpan<T>(
  name: string,
  fn: (span: Span) => T | Promise<T>,
  options: AgentSpanOptions = {},
): Promise<T> {
  return inSpan(
    agentSpanName(name),
    {
      attributes: {
        [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_INVOKE_AGENT,
        [ATTR_GEN_AI_AGENT_NAME]: name,
        ...options.attributes,
      },
      parent: options.parent,
    },
    fn,
  );
}

/** Runs a tool call inside an `execute_tool {tool}` span; errors are recorded and rethrown. */
export function withToolSpan<T>(
  tool: string,
  callId: string,
  fn: (span: Span) => T | Promise<T>,
): Promise<T> {
  return inSpan(
    toolSpanName(tool),
    {
      attributes: {
        [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_EXECUTE_TOOL,
        [ATTR_GEN_AI_TOOL_NAME]: tool,
        [ATTR_GEN_AI_TOOL_CALL_ID]: callId,
      },
    },
    fn,
  );
}
