import type { Meter } from '@opentelemetry/api';
import { createGenAiMetrics } from '@tracewire/otel';
import OpenAI from 'openai';
import type {
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { AgentError } from '../agentError.js';
import { defineAgent } from '../define.js';
import type { AgentDefinition, AnyToolDefinition } from '../types.js';
import { callModel, type Turn } from './modelCall.js';
import type { BackoffOptions } from './retry.js';

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

/** The agent's options with defaults applied. */
export type Settings = Required<
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
