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
}

const json = (value: unknown): string => {
  try {
    const s = JSON.stringify(value);
    return s === undefined ? String(value) : s.length > 200 ? `${s.slice(0, 197)}...` : s;
  } catch {
    return String(value);
  }
};

/** Creates a renderer; `color: false` for pipes, tests and `NO_COLOR`. */
export function createRenderer(opts: { color: boolean }): Renderer {
  const paint = (style: Style, text: string) =>
    opts.color ? `${SGR[style]}${text}${SGR.reset}` : text;
  let inAnswer = false;
  // Every block but the answer starts on its own line.
  const line = (text: string) => {
    const prefix = inAnswer ? '\n' : '';
    inAnswer = false;
    return `${prefix}${text}\n`;
  };
  return {
    render(event) {
      switch (event.type) {
        case 'agent_started':
          return line(paint('dim', `[${event.agent}] working...`));
        case 'agent_thinking':
          return line(paint('dim', `thinking: ${event.text}`));
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
        case 'message_delta':
          inAnswer = true;
          return event.delta;
        case 'agent_completed':
          return inAnswer ? ((inAnswer = false), '\n') : line(event.message.content);
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
  };
}
