/** One piece of a streamed tool call, as OpenAI-compatible servers send it (every field optional). */
export interface ToolCallDelta {
  index?: number | null | undefined;
  id?: string | null | undefined;
  type?: string | null | undefined;
  function?: { name?: string | null | undefined; arguments?: string | null | undefined } | null;
}

/** A tool call put together from its pieces. */
export interface AccumulatedToolCall {
  /** The model's id, or `call_<n>` when the server sent none. */
  id: string;
  name: string;
  /** The arguments' JSON text, as the model wrote it (may be invalid). */
  arguments: string;
}

/** Collects streamed tool-call deltas into whole calls. */
export interface ToolCallAccumulator {
  add(delta: ToolCallDelta): void;
  /** The calls so far, in the order they were opened. */
  calls(): AccumulatedToolCall[];
}

interface OpenCall {
  index: number | undefined;
  id: string | undefined;
  name: string;
  arguments: string;
}

/**
 * Creates an accumulator that matches each delta to its call by `index` (the standard), else
 * by `id` (servers that omit the index), else to the single open call, the last one opened
 * (servers that send neither on continuation chunks; a chunk with another name opens a new
 * call). A whole call in one chunk, interleaved parallel calls, a missing `type` and a name
 * repeated in later chunks all work.
 */
export function createToolCallAccumulator(): ToolCallAccumulator {
  const open: OpenCall[] = [];

  function find(delta: ToolCallDelta): OpenCall | undefined {
    if (typeof delta.index === 'number') return open.find((c) => c.index === delta.index);
    if (delta.id) return open.find((c) => c.id === delta.id);
    const last = open.at(-1);
    // Names come whole in a call's first chunk: another name opens another call.
    const name = delta.function?.name;
    return name && last?.name && name !== last.name ? undefined : last;
  }

  return {
    add(delta) {
      let call = find(delta);
      if (!call) {
        call = {
          index: typeof delta.index === 'number' ? delta.index : undefined,
          id: undefined,
          name: '',
          arguments: '',
        };
        open.push(call);
      }
      if (delta.id && !call.id) call.id = delta.id;
      // Some servers repeat the name in every chunk: the first one stands.
      if (!call.name && delta.function?.name) call.name = delta.function.name;
      call.arguments += delta.function?.arguments ?? '';
    },
    calls: () =>
      open.map((c, i) => ({ id: c.id ?? `call_${i}`, name: c.name, arguments: c.arguments })),
  };
}
