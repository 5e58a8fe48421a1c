import type { Meter } from '@opentelemetry/api';
import {
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  createGenAiMetrics,
  withModelCall,
  type GenAiMetrics,
  type ModelCall,
} from '@tracewire/otel';
import OpenAI from 'openai';
import type {
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { abortReason, abortableSleep } from '../abort.js';
import { AgentError } from '../agentError.js';
import { defineAgent } from '../define.js';
import type { AgentContext, AgentDefinition, AnyToolDefinition, TextStream } from '../types.js';
import { streamCompletion, type CompletionResult } from './completionStream.js';
import { fullJitterMs, type BackoffOptions } from './retry.js';
import {
  UpstreamProtocolError,
  classifyUpstreamError,
  type UpstreamFailure,
} from './upstreamError.js';

/** Options of {@link createLlmAgent}. */
export interface LlmAgentOptions {
  /** OpenAI-compatible base URL, e.g. `http://127.0.0.1:8080/v1`. */
  baseUrl: string;
  model: string;
  /** Sent as `Authorization: Bearer`; none = no Authorization header. */
  apiKey?: string | undefined;
  /** Tools offered to the model. */
  tools: readonly AnyToolDefinition[];
  /** @default 'llm' */
  name?: string;
  /** @default 8 */
  maxSteps?: number;
  /** `max_tokens`; 0 or unset = not sent. */
  maxTokens?: number | undefined;
  temperature?: number | undefined;
  /** @default 60_000 */
  timeoutMs?: number;
  /** @default 2 */
  retries?: number;
  /** @default 30_000 */
  retryAfterMaxMs?: number;
  /** @default { baseMs: 500, maxMs: 8_000 } */
  backoff?: BackoffOptions;
  /** @default true */
  requestUsage?: boolean;
  /** @default false */
  recordContent?: boolean;
  systemPrompt?: string | undefined;
  /** Earlier messages of the thread shown to the model. @default 50 */
  historyMessages?: number;
  /** Where the `gen_ai.client.*` histograms live; none = not recorded. */
  meter?: Meter | undefined;
  /** `gen_ai.provider.name`. @default 'openai' */
  provider?: string;
  /** Minimum ms between two coalesced text events of one kind. @default 50 */
  textIntervalMs?: number;
}

/** The system prompt when none is configured. */
export const DEFAULT_SYSTEM_PROMPT =
  'You are a helpful assistant in a chat. Use the tools you are given when they help ' +
  '(for arithmetic, the time, counting words) and answer in plain text.';

type Settings = Required<
  Omit<LlmAgentOptions, 'apiKey' | 'maxTokens' | 'temperature' | 'systemPrompt' | 'meter'>
> &
  Pick<LlmAgentOptions, 'maxTokens' | 'temperature'> & { systemPrompt: string };

/**
 * Creates the LLM agent for any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp's
 * server, Ollama, LM Studio), built on the public agent API only. Per run: the thread's
 * earlier messages and the user's message go to the model with every tool's JSON Schema;
 * answer text streams as coalesced `message_delta`, reasoning as `agent_thinking`; the
 * tool calls the model makes run in parallel through `ctx.callTools` and their results go
 * back as `role: "tool"` messages, until the model answers or `maxSteps` calls were made.
 * Each model call is a `chat {model}` CLIENT span; failed calls are retried (abortable, full
 * jitter, `Retry-After` honoured up to a cap) only while no text of that call was shown.
 */
export function createLlmAgent(options: LlmAgentOptions): AgentDefinition {
  const s: Settings = {
    name: options.name ?? 'llm',
    baseUrl: options.baseUrl,
    model: options.model,
    tools: options.tools,
    maxSteps: options.maxSteps ?? 8,
    maxTokens: options.maxTokens,
    temperature: options.temperature,
    timeoutMs: options.timeoutMs ?? 60_000,
    retries: options.retries ?? 2,
    retryAfterMaxMs: options.retryAfterMaxMs ?? 30_000,
    backoff: options.backoff ?? { baseMs: 500, maxMs: 8_000 },
    requestUsage: options.requestUsage ?? true,
    recordContent: options.recordContent ?? false,
    systemPrompt: options.systemPrompt ?? DEFAULT_SYSTEM_PROMPT,
    historyMessages: options.historyMessages ?? 50,
    provider: options.provider ?? 'openai',
    textIntervalMs: options.textIntervalMs ?? 50,
  };
  const client = new OpenAI({
    baseURL: s.baseUrl,
    // The client insists on a key; without one the header is left out instead.
    apiKey: options.apiKey ?? 'unused',
    ...(options.apiKey ? {} : { defaultHeaders: { Authorization: null } }),
    // Its retry sleep ignores the abort signal and any Retry-After is obeyed uncapped.
    maxRetries: 0,
    // A backstop only: the stream reader's own timer covers the start and every stall.
    timeout: s.timeoutMs * 2,
    logLevel: 'off',
  });
  const metrics = options.meter ? createGenAiMetrics(options.meter) : undefined;
  return defineAgent({
    name: s.name,
    description: `Answers with ${s.model} on an OpenAI-compatible endpoint, calling the registered tools.`,
    tools: s.tools,
    run: (ctx) => runTurn({ ctx, client, s, metrics, secret: options.apiKey }),
  });
}

interface Turn {
  ctx: AgentContext;
  client: OpenAI;
  s: Settings;
  metrics: GenAiMetrics | undefined;
  secret: string | undefined;
}

/** One run: model calls and tool calls until the model answers. */
async function runTurn(turn: Turn): Promise<void> {
  const { ctx, s } = turn;
  const history = await ctx.history({ limit: s.historyMessages });
  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: s.systemPrompt },
    ...history.map((m) => ({ role: m.role, content: m.content })),
    { role: 'user', content: ctx.message.content },
  ];
  const tools: ChatCompletionTool[] = ctx.tools.map((t) => ({
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.parameters },
  }));
  const text = ctx.textStream({ intervalMs: s.textIntervalMs });
  for (let step = 1; ; step++) {
    const result = await callModel(turn, { messages, tools, text });
    await text.flush();
    const pendingTools = result.toolCalls.length > 0;
    if (result.finishReason === 'length') {
      throw new AgentError(
        'UPSTREAM_ERROR',
        pendingTools
          ? 'The model ran out of tokens in the middle of a tool call (raise TRACEWIRE_LLM_MAX_TOKENS)'
          : 'The answer was cut off at the token limit (raise TRACEWIRE_LLM_MAX_TOKENS)',
        { retryable: false },
      );
    }
    if (result.finishReason === 'content_filter') {
      throw new AgentError('UPSTREAM_ERROR', "The endpoint's content filter stopped the answer", {
        retryable: false,
      });
    }
    // Servers differ: `tool_calls`, `stop` (Ollama) or `''` all end a turn that asked for tools.
    if (!pendingTools) return;
    if (step >= s.maxSteps) {
      throw new AgentError(
        'STEP_LIMIT',
        `The model still asked for tools after ${s.maxSteps} steps (TRACEWIRE_LLM_MAX_STEPS)`,
      );
    }
    messages.push({
      role: 'assistant',
      content: result.content || null,
      tool_calls: result.toolCalls.map((c) => ({
        id: c.id,
        type: 'function',
        function: { name: c.name, arguments: c.arguments },
      })),
    });
    const outcomes = await ctx.callTools(
      result.toolCalls.map((c) => ({ name: c.name, argsJson: c.arguments })),
    );
    result.toolCalls.forEach((call, i) => {
      const outcome = outcomes[i]!;
      messages.push({
        role: 'tool',
        tool_call_id: call.id,
        content: JSON.stringify(outcome.ok ? outcome.result : { error: outcome.error }),
      });
    });
  }
}

/** One model call with its retries; resolves with a completion that has a finish reason. */
async function callModel(
  turn: Turn,
  req: { messages: ChatCompletionMessageParam[]; tools: ChatCompletionTool[]; text: TextStream },
): Promise<CompletionResult> {
  const { ctx, s } = turn;
  for (let attempt = 0; ; attempt++) {
    let shown = false;
    /** A failure of the run's own event writing, not of the endpoint. */
    let local: Error | null = null;
    const show = (push: () => void) => {
      shown = true;
      try {
        push();
      } catch (error) {
        local = error instanceof Error ? error : new Error(String(error));
        throw local;
      }
    };
    try {
      return await withModelCall(
        {
          provider: s.provider,
          model: s.model,
          baseUrl: s.baseUrl,
          maxTokens: s.maxTokens,
          temperature: s.temperature,
        },
        turn.metrics,
        async (call) => {
          if (s.recordContent)
            call.span.setAttribute(ATTR_GEN_AI_INPUT_MESSAGES, JSON.stringify(req.messages));
          const result = await streamCompletion({
            client: turn.client,
            body: {
              model: s.model,
              messages: req.messages,
              stream: true,
              ...(s.requestUsage ? { stream_options: { include_usage: true } } : {}),
              ...(req.tools.length > 0 ? { tools: req.tools } : {}),
              ...(s.maxTokens ? { max_tokens: s.maxTokens } : {}),
              ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
            },
            signal: ctx.signal,
            idleTimeoutMs: s.timeoutMs,
            onDelta: (t) => show(() => req.text.delta(t)),
            onReasoning: (t) => show(() => req.text.think(t)),
          }).catch((error: unknown) => {
            // Spans and logs get the classified, redacted error, never the raw one.
            if (ctx.signal.aborted || local) throw error;
            throw new ModelCallFailure(classifyUpstreamError(error), turn.secret);
          });
          recordResponse(call, result, s.recordContent);
          if (result.finishReason === null) {
            const cut = new UpstreamProtocolError('ended the stream without a finish reason', {
              transient: true,
            });
            throw new ModelCallFailure(classifyUpstreamError(cut), turn.secret);
          }
          return result;
        },
      );
    } catch (error) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      // Set from the callbacks above: TypeScript cannot see that.
      const localFailure = local as Error | null;
      if (localFailure) throw localFailure;
      const failure =
        error instanceof ModelCallFailure ? error.failure : classifyUpstreamError(error);
      const reason = redact(failure.error.message, turn.secret);
      if (shown) {
        // Text of this call was shown: a retry would repeat or contradict it. What arrived
        // before the failure is still sent, then the error.
        await req.text.flush().catch(() => undefined);
        throw new AgentError(
          failure.error.code === 'RATE_LIMITED' ? 'UPSTREAM_ERROR' : failure.error.code,
          `${reason} (after part of the answer was sent)`,
          { retryable: failure.error.retryable },
        );
      }
      const final = (why = reason) =>
        new AgentError(failure.error.code, why, {
          retryable: failure.error.retryable,
        });
      if (!failure.transient) throw final();
      if (failure.retryAfterMs !== undefined && failure.retryAfterMs > s.retryAfterMaxMs) {
        throw final(
          `${reason}; it asks to wait ${Math.ceil(failure.retryAfterMs / 1000)} s, more than the ${s.retryAfterMaxMs} ms the agent waits (TRACEWIRE_LLM_RETRY_AFTER_MAX_MS)`,
        );
      }
      if (attempt >= s.retries) {
        throw final(attempt > 0 ? `${reason} (after ${attempt + 1} attempts)` : reason);
      }
      const waitMs = failure.retryAfterMs ?? fullJitterMs(attempt, s.backoff);
      ctx.log.warn(
        { attempt: attempt + 1, wait_ms: waitMs, status: failure.status, reason },
        'model call failed; retrying',
      );
      await abortableSleep(waitMs, ctx.signal);
    }
  }
}

function recordResponse(call: ModelCall, result: CompletionResult, recordContent: boolean): void {
  call.response({
    id: result.id,
    model: result.model,
    finishReasons: result.finishReason === null ? undefined : [result.finishReason],
    inputTokens: result.usage?.inputTokens,
    outputTokens: result.usage?.outputTokens,
  });
  if (recordContent) {
    call.span.setAttribute(
      ATTR_GEN_AI_OUTPUT_MESSAGES,
      JSON.stringify([
        {
          role: 'assistant',
          content: result.content,
          tool_calls: result.toolCalls,
          finish_reason: result.finishReason,
        },
      ]),
    );
  }
}

/** A failed model call as spans and the retry loop see it: classified, the key redacted. */
class ModelCallFailure extends Error {
  override readonly name = 'ModelCallFailure';
  readonly failure: UpstreamFailure;
  /** The agent error code (the span's `error.type`). */
  readonly code: string;

  constructor(failure: UpstreamFailure, secret: string | undefined) {
    super(redact(failure.error.message, secret));
    this.failure = failure;
    this.code = failure.error.code;
  }
}

/** Never lets the API key reach a client or a log, even if an endpoint echoes it. */
const redact = (message: string, secret: string | undefined): string =>
  secret ? message.split(secret).join('[redacted]') : message;
