import {
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  withModelCall,
  type GenAiMetrics,
  type ModelCall,
} from '@tracewire/otel';
import type OpenAI from 'openai';
import type {
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { abortReason, abortableSleep } from '../abort.js';
import { AgentError } from '../agentError.js';
import type { AgentContext, TextStream } from '../types.js';
import { streamCompletion, type CompletionResult } from './completionStream.js';
import type { Settings } from './llmAgent.js';
import { fullJitterMs } from './retry.js';
import {
  UpstreamProtocolError,
  classifyUpstreamError,
  type UpstreamFailure,
} from './upstreamError.js';

/** What one run of the agent works with. */
export interface Turn {
  ctx: AgentContext;
  client: OpenAI;
  s: Settings;
  metrics: GenAiMetrics | undefined;
  secret: string | undefined;
}

/** One model call with its retries; resolves with a completion that has a finish reason. */
export async function callModel(
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
