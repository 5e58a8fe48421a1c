/**
 * Chunk scripts in the streaming wire formats of real OpenAI-compatible servers, written
 * from what each one sends (field order, extra fields and quirks included), for the
 * scripted endpoint. Each returns the SSE events of one reply.
 */

const base = (id: string, model: string, extra: Record<string, unknown> = {}) => ({
  id,
  object: 'chat.completion.chunk',
  created: 1_765_000_000,
  model,
  ...extra,
});

/** OpenAI: `usage: null` on every chunk, a role chunk with `refusal: null`, a usage-only last chunk. */
export const openai = {
  model: 'gpt-4o-mini-2024-07-18',
  chunk(delta: Record<string, unknown>, finish: string | null = null) {
    return {
      ...base('chatcmpl-Bq1', this.model, { service_tier: 'default', system_fingerprint: 'fp_1' }),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      usage: null,
    };
  },
  usage(prompt: number, completion: number) {
    return {
      ...base('chatcmpl-Bq1', this.model, { service_tier: 'default', system_fingerprint: 'fp_1' }),
      choices: [],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
      },
    };
  },
  /** A streamed answer in pieces. */
  answer(pieces: readonly string[]) {
    return [
      this.chunk({ role: 'assistant', content: '', refusal: null }),
      ...pieces.map((content) => this.chunk({ content })),
      this.chunk({}, 'stop'),
      this.usage(41, pieces.length),
    ];
  },
  /** Two parallel calls, their argument pieces interleaved by index. */
  parallelCalls(a: { id: string; name: string; args: string[] }, b: typeof a) {
    const events: object[] = [
      this.chunk({ role: 'assistant', content: null, refusal: null }),
      this.chunk({
        tool_calls: [
          { index: 0, id: a.id, type: 'function', function: { name: a.name, arguments: '' } },
        ],
      }),
      this.chunk({
        tool_calls: [
          { index: 1, id: b.id, type: 'function', function: { name: b.name, arguments: '' } },
        ],
      }),
    ];
    for (let i = 0; i < Math.max(a.args.length, b.args.length); i++) {
      if (a.args[i] !== undefined)
        events.push(this.chunk({ tool_calls: [{ index: 0, function: { arguments: a.args[i] } }] }));
      if (b.args[i] !== undefined)
        events.push(this.chunk({ tool_calls: [{ index: 1, function: { arguments: b.args[i] } }] }));
    }
    events.push(this.chunk({}, 'tool_calls'), this.usage(80, 40));
    return events;
  },
};

/** vLLM: reasoning in `reasoning_content`, a tool call whose first chunk has no `arguments`. */
export const vllm = {
  model: 'Qwen/Qwen3-8B',
  chunk(delta: Record<string, unknown>, finish: string | null = null) {
    return {
      ...base('chatcmpl-9d2e', this.model),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
  },
  reasoningThenCall(thoughts: string[], call: { name: string; args: string[] }) {
    return [
      this.chunk({ role: 'assistant', content: '' }),
      ...thoughts.map((reasoning_content) => this.chunk({ reasoning_content })),
      this.chunk({
        tool_calls: [
          { id: 'chatcmpl-tool-7f3', type: 'function', index: 0, function: { name: call.name } },
        ],
      }),
      ...call.args.map((a) =>
        this.chunk({ tool_calls: [{ index: 0, function: { arguments: a } }] }),
      ),
      this.chunk({ content: '' }, 'tool_calls'),
      {
        ...base('chatcmpl-9d2e', this.model),
        choices: [],
        usage: { prompt_tokens: 311, total_tokens: 350, completion_tokens: 39 },
      },
    ];
  },
  answer(pieces: string[]) {
    return [
      this.chunk({ role: 'assistant', content: '' }),
      ...pieces.map((content) => this.chunk({ content })),
      this.chunk({ content: '' }, 'stop'),
      {
        ...base('chatcmpl-9d2e', this.model),
        choices: [],
        usage: { prompt_tokens: 380, total_tokens: 392, completion_tokens: 12 },
      },
    ];
  },
};

/** llama.cpp's server: `reasoning_content`, usage and timings inside the finish chunk, whole calls. */
export const llamaCpp = {
  model: 'gpt-3.5-turbo',
  chunk(
    delta: Record<string, unknown>,
    finish: string | null = null,
    extra: Record<string, unknown> = {},
  ) {
    return {
      choices: [{ finish_reason: finish, index: 0, delta }],
      created: 1_765_000_000,
      id: 'chatcmpl-Zk3',
      model: this.model,
      system_fingerprint: 'b6123-1a2b3c',
      object: 'chat.completion.chunk',
      ...extra,
    };
  },
  final(finish: string, prompt: number, completion: number) {
    return this.chunk({}, finish, {
      usage: {
        completion_tokens: completion,
        prompt_tokens: prompt,
        total_tokens: prompt + completion,
      },
      timings: { prompt_n: prompt, prompt_ms: 12.5, predicted_n: completion, predicted_ms: 80.1 },
    });
  },
};

/**
 * Ollama: a whole tool call in one chunk without `index` (Ollama issue 7881), `finish_reason`
 * `stop` even after a tool call, reasoning in `reasoning`, and sometimes `""` as the finish
 * reason (Ollama issue 4357).
 */
export const ollama = {
  model: 'llama3.2',
  chunk(delta: Record<string, unknown>, finish: string | null = null) {
    return {
      ...base('chatcmpl-431', this.model, { system_fingerprint: 'fp_ollama' }),
      choices: [{ index: 0, delta, finish_reason: finish }],
    };
  },
};
