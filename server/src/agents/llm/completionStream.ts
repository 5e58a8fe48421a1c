import type OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import { abortReason } from '../abort.js';
import { UpstreamProtocolError } from './upstreamError.js';
import { createToolCallAccumulator, type AccumulatedToolCall } from './toolCallAccumulator.js';

/** One streamed chat completion to read. */
export interface CompletionRequest {
  client: OpenAI;
  body: ChatCompletionCreateParamsStreaming;
  /** The run's signal: aborting it closes the connection at once, in any phase. */
  signal: AbortSignal;
  /** Longest wait for the response to start and between two chunks (a stall). */
  idleTimeoutMs: number;
  /** Answer text (`content`, `refusal`) as it arrives. */
  onDelta(text: string): void;
  /** Reasoning text (`reasoning_content` from llama.cpp and vLLM, `reasoning` from Ollama). */
  onReasoning(text: string): void;
}

/** What one completion produced. */
export interface CompletionResult {
  id: string | undefined;
  model: string | undefined;
  /** The last finish reason sent; `''` when a server sent an empty one; null when none. */
  finishReason: string | null;
  content: string;
  toolCalls: AccumulatedToolCall[];
  usage: { inputTokens: number | undefined; outputTokens: number | undefined } | undefined;
}

/** Delta fields some servers send that the `openai` types do not know. */
type ReasoningDelta = { reasoning_content?: unknown; reasoning?: unknown };

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/**
 * Sends one streamed chat completion and reads its raw chunks (not the `.stream()` helper,
 * which throws on chunks real servers send). Text is handed over as it arrives; tool-call
 * deltas are put together by index, id, or the open call. A stream that is not SSE, that
 * stalls, or that the run's signal stops ends at once with the connection closed.
 */
export async function streamCompletion(req: CompletionRequest): Promise<CompletionResult> {
  const controller = new AbortController();
  const stopWith = (reason: unknown) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const onRunAbort = () => stopWith(abortReason(req.signal));
  if (req.signal.aborted) onRunAbort();
  else req.signal.addEventListener('abort', onRunAbort, { once: true });
  let phase = 'start answering';
  const timer = setTimeout(
    () =>
      stopWith(
        new UpstreamProtocolError(`did not ${phase} within ${req.idleTimeoutMs} ms`, {
          transient: true,
        }),
      ),
    req.idleTimeoutMs,
  );
  const result: CompletionResult = {
    id: undefined,
    model: undefined,
    finishReason: null,
    content: '',
    toolCalls: [],
    usage: undefined,
  };
  const tools = createToolCallAccumulator();
  try {
    const { data: stream, response } = await req.client.chat.completions
      .create(req.body, { signal: controller.signal })
      .withResponse();
    const type = response.headers.get('content-type') ?? '(none)';
    if (!/^text\/event-stream\b/i.test(type)) {
      throw new UpstreamProtocolError(
        `answered ${type} instead of an event stream (is TRACEWIRE_LLM_BASE_URL the API's base URL, e.g. ending in /v1?)`,
        { transient: false },
      );
    }
    phase = 'send the next chunk';
    timer.refresh();
    for await (const chunk of stream) {
      timer.refresh();
      readChunk(chunk, { result, tools, req });
    }
    // An aborted stream simply ends (the client swallows the abort): say why it ended.
    if (controller.signal.aborted) throw controller.signal.reason;
  } catch (error) {
    // Whatever failed, the connection must not outlive the call.
    stopWith(error);
    throw controller.signal.aborted && controller.signal.reason !== error
      ? (controller.signal.reason as unknown)
      : error;
  } finally {
    clearTimeout(timer);
    req.signal.removeEventListener('abort', onRunAbort);
  }
  result.toolCalls = tools.calls();
  return result;
}

function readChunk(
  chunk: ChatCompletionChunk,
  into: {
    result: CompletionResult;
    tools: ReturnType<typeof createToolCallAccumulator>;
    req: CompletionRequest;
  },
): void {
  const { result, tools, req } = into;
  if (chunk.id) result.id ??= chunk.id;
  if (chunk.model) result.model = chunk.model;
  if (chunk.usage) {
    result.usage = {
      inputTokens: chunk.usage.prompt_tokens,
      outputTokens: chunk.usage.completion_tokens,
    };
  }
  for (const choice of chunk.choices ?? []) {
    // One completion is asked for; a server that numbers choices numbers it 0.
    if (typeof choice.index === 'number' && choice.index !== 0) continue;
    const delta = choice.delta ?? {};
    const reasoning = delta as ReasoningDelta;
    const thought = text(reasoning.reasoning_content) || text(reasoning.reasoning);
    if (thought) req.onReasoning(thought);
    const content = text(delta.content);
    if (content) {
      result.content += content;
      req.onDelta(content);
    }
    const refusal = text(delta.refusal);
    if (refusal) {
      result.content += refusal;
      req.onDelta(refusal);
    }
    for (const call of delta.tool_calls ?? []) tools.add(call);
    if (choice.finish_reason !== null && choice.finish_reason !== undefined)
      result.finishReason = choice.finish_reason;
  }
}
