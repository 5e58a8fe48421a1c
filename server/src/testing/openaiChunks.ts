import type { ScriptedReply, Responder } from './scriptedLlmServer.js';

/** Fields of a `chat.completion.chunk` a script may set. */
export interface ChunkOptions {
  id?: string;
  model?: string;
  /** `finish_reason`; `undefined` leaves the field out (some servers do). @default null */
  finish?: string | null | undefined;
  /** Leaves `finish_reason` out of the choice entirely. */
  omitFinish?: boolean;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens?: number };
}

/** One chunk in OpenAI's wire format with a single choice carrying `delta`. */
export function chunk(delta: Record<string, unknown>, opts: ChunkOptions = {}): object {
  const choice: Record<string, unknown> = { index: 0, delta, logprobs: null };
  if (!opts.omitFinish) choice['finish_reason'] = opts.finish === undefined ? null : opts.finish;
  return {
    id: opts.id ?? 'chatcmpl-scripted',
    object: 'chat.completion.chunk',
    created: 1_765_000_000,
    model: opts.model ?? 'scripted-model',
    choices: [choice],
    ...(opts.usage ? { usage: opts.usage } : {}),
  };
}

/** The last chunk `stream_options.include_usage` asks for: no choices, only usage. */
export function usageChunk(prompt: number, completion: number, id = 'chatcmpl-scripted'): object {
  return {
    id,
    object: 'chat.completion.chunk',
    created: 1_765_000_000,
    model: 'scripted-model',
    choices: [],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
    },
  };
}

/** A plain streamed answer: role chunk, the text in pieces, `stop`, usage. */
export function answerReply(
  pieces: readonly string[],
  usage: [number, number] = [20, 8],
): ScriptedReply {
  return {
    events: [
      chunk({ role: 'assistant', content: '' }),
      ...pieces.map((content) => chunk({ content })),
      chunk({}, { finish: 'stop' }),
      usageChunk(...usage),
    ],
  };
}

/** One streamed tool call with its arguments split into pieces, then `tool_calls`. */
export function toolCallReply(
  call: { id: string; name: string; args: readonly string[] },
  usage: [number, number] = [30, 12],
): ScriptedReply {
  return {
    events: [
      chunk({
        role: 'assistant',
        content: null,
        tool_calls: [
          { index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
        ],
      }),
      ...call.args.map((a) => chunk({ tool_calls: [{ index: 0, function: { arguments: a } }] })),
      chunk({}, { finish: 'tool_calls' }),
      usageChunk(...usage),
    ],
  };
}

/**
 * A responder for whole chat turns: a user message gets a calculator call on
 * `2 + 3 * (4 - 1)` (arguments in three pieces), the tool's result gets a streamed answer
 * quoting it. Deterministic and immediate: what the bench runs the LLM agent against.
 */
export function createToolLoopResponder(): Responder {
  return (request) => {
    const messages = (request.body['messages'] ?? []) as Array<{ role: string; content?: unknown }>;
    const last = messages.at(-1);
    if (last?.role !== 'tool') {
      return toolCallReply({
        id: 'call_calc',
        name: 'calculator',
        args: ['{"expres', 'sion": "2 + 3', ' * (4 - 1)"}'],
      });
    }
    const value = /"value":\s*(-?[\d.]+)/.exec(String(last.content))?.[1] ?? '?';
    return answerReply(['The answer ', `is ${value}`, '. Anything else?']);
  };
}
