import type { ThreadEvent } from '../types.js';

/** Plain ANSI SGR codes (no dependency). */
const SGR = {
  reset: '\x1b[0m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  cyan: '\x1b[36m',
};
type Style = Exclude<keyof typeof SGR, 'reset'>;

/** Turns events into terminal text; keeps the answer streaming inline on one line. */
export interface Renderer {
  /** Text to write for this event (may be empty). */
  render(event: ThreadEvent): string;
  /** Text for an error outside the event stream (e.g. a failed send). */
  error(message: string): string;
  /** The user's own message in the transcript, as a prompt line. */
  userMessage(content: string): string;
}

const json = (value: unknown): string => {
  try {
    const s = JSON.stringify(value);
    return s === undefined ? String(value) : s.length > 200 ? `${s.slice(0, 197)}...` : s;
  } catch {
    return String(value);
  }
};

/** A thought that ends a sentence, so the next one gets a space (one-thought-per-event agents). */
const SENTENCE_END = /[.!?:;"')\]]$/;

/** Creates a renderer; `color: false` for pipes, tests and `NO_COLOR`. */
export function createRenderer(opts: { color: boolean }): Renderer {
  const paint = (style: Style, text: string) =>
    opts.color ? `${SGR[style]}${text}${SGR.reset}` : text;
  /** The text block being streamed inline, if any: the answer or the agent's thinking. */
  let inline: 'answer' | 'thinking' | null = null;
  let lastThought = '';
  // Every block starts on its own line; answer and thinking stream inline as they arrive.
  const line = (text: string) => {
    const prefix = inline ? '\n' : '';
    inline = null;
    return `${prefix}${text}\n`;
  };
  /** Thinking streams like the answer (a model sends it in pieces) under one `thinking:` label. */
  const thinking = (text: string) => {
    let out: string;
    if (inline === 'thinking') {
      const gap = SENTENCE_END.test(lastThought) && /^\S/.test(text) ? ' ' : '';
      out = gap + text;
    } else {
      out = `${inline ? '\n' : ''}thinking: ${text}`;
    }
    inline = 'thinking';
    lastThought = text;
    return paint('dim', out);
  };
  return {
    render(event) {
      switch (event.type) {
        case 'agent_started':
          return line(paint('dim', `[${event.agent}] working...`));
        case 'agent_thinking':
          return thinking(event.text);
        case 'tool_executing':
          return line(paint('cyan', `-> ${event.tool}(${json(event.args)})`));
        case 'tool_completed':
          return event.ok
            ? line(
                paint(
                  'green',
                  `<- ${event.tool}: ${json(event.result)} (${Math.round(event.durationMs)} ms)`,
                ),
              )
            : line(
                paint(
                  'red',
                  `<- ${event.tool} failed: ${event.error?.code ?? 'ERROR'} ${event.error?.message ?? ''}`.trimEnd(),
                ),
              );
        case 'message_delta': {
          const prefix = inline === 'thinking' ? '\n' : '';
          inline = 'answer';
          return prefix + event.delta;
        }
        case 'agent_completed':
          if (inline === 'answer') {
            inline = null;
            return '\n';
          }
          return line(event.message.content);
        case 'agent_error':
          return line(
            paint(
              'red',
              `error ${event.code}: ${event.message}${event.retryable ? ' (retryable)' : ''}`,
            ),
          );
        case 'resync':
          return line(
            paint('yellow', `stream resynced (${event.reason}): some events may be missing`),
          );
      }
    },
    error(message) {
      return line(paint('red', `error: ${message}`));
    },
    userMessage(content) {
      return line(`> ${content}`);
    },
  };
}
