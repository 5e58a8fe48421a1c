import type { Message, RunEvent } from '@tracewire/client';
import { h, preview } from './dom.js';

/** The thread as the user sees it: messages, and each run's events as they stream. */
export interface Transcript {
  /** Empties it (another thread, or a resync). */
  clear(): void;
  /** A stored message (history, or the user's own just sent); shown once. */
  message(message: Pick<Message, 'id' | 'role' | 'content'>): void;
  /** One agent event of the live stream, in stream order. */
  event(event: RunEvent): void;
  /** A line outside the stream (a resync notice). */
  notice(text: string): void;
}

interface RunView {
  block: HTMLLIElement;
  answer: HTMLParagraphElement;
  tools: Map<string, HTMLDivElement>;
}

const eventId = (event: RunEvent) => `${event.epoch}:${event.seq}`;

/**
 * Renders into the `<ol>` of the conversation. Every agent event becomes one element carrying
 * `data-event-id`, `data-type` and `data-order` (a delta is a span of the answer; the other
 * events are rows of the run), so what was shown, and in which order, can be checked against
 * the stream.
 */
export function createTranscript(root: HTMLOListElement): Transcript {
  const messages = new Map<string, HTMLLIElement>();
  const runs = new Map<string, RunView>();

  const scroll = () => root.lastElementChild?.scrollIntoView({ block: 'end' });

  const messageItem = (id: string, role: string) => {
    let item = messages.get(id);
    if (!item) {
      item = h('li', { class: `message ${role}`, 'data-message-id': id, 'data-role': role });
      messages.set(id, item);
      root.append(item);
    }
    return item;
  };

  const runView = (event: RunEvent): RunView => {
    let view = runs.get(event.runId);
    if (view) return view;
    const answer = h('p', { class: 'answer' });
    const block = h(
      'li',
      { class: 'run', 'data-run-id': event.runId, 'data-state': 'running' },
      answer,
    );
    view = { block, answer, tools: new Map() };
    runs.set(event.runId, view);
    root.append(block);
    return view;
  };

  /** Order in which the page showed events: the answer's spans sit after the rows. */
  let shown = 0;
  const mark = (event: RunEvent) => ({
    'data-event-id': eventId(event),
    'data-type': event.type,
    'data-order': String(shown++),
  });
  const row = (cls: string, event: RunEvent, ...children: (Node | string)[]) =>
    h('div', { class: cls, ...mark(event) }, ...children);

  return {
    clear() {
      messages.clear();
      runs.clear();
      root.replaceChildren();
    },
    message(message) {
      const item = messageItem(message.id, message.role);
      item.textContent = message.content;
      scroll();
    },
    event(event) {
      if (event.type === 'agent_started') {
        // The user's message comes first, even when its send has not answered yet.
        messageItem(event.messageId, 'user');
      }
      const view = runView(event);
      const { block, answer } = view;
      switch (event.type) {
        case 'agent_started':
          block.insertBefore(row('started', event, `${event.agent} is working…`), answer);
          break;
        case 'agent_thinking':
          block.insertBefore(row('thinking', event, event.text), answer);
          break;
        case 'tool_executing': {
          const tool = row('tool', event, h('code', {}, `${event.tool}(${preview(event.args)})`));
          tool.dataset['state'] = 'running';
          view.tools.set(event.toolCallId, tool);
          block.insertBefore(tool, answer);
          break;
        }
        case 'tool_completed': {
          const text = event.ok
            ? `→ ${preview(event.result)}`
            : `✗ ${event.error.code}: ${event.error.message}`;
          const result = row(
            event.ok ? 'tool-result' : 'tool-result failed',
            event,
            `${text} (${Math.round(event.durationMs)} ms)`,
          );
          const call = view.tools.get(event.toolCallId);
          if (call) call.dataset['state'] = event.ok ? 'done' : 'failed';
          // In arrival order, like every row: concurrent calls interleave as they ran.
          block.insertBefore(result, answer);
          break;
        }
        case 'message_delta':
          answer.append(h('span', mark(event), event.delta));
          break;
        case 'agent_completed': {
          // Deltas before the position this page started from are not in the stream: the
          // final message is the whole answer.
          if (answer.textContent !== event.message.content)
            answer.textContent = event.message.content;
          answer.dataset['messageId'] = event.message.id;
          messages.set(event.message.id, block);
          block.append(row('completed', event, 'done'));
          block.dataset['state'] = 'completed';
          break;
        }
        case 'agent_error':
          block.append(
            row(
              'run-error',
              event,
              `${event.code}: ${event.message}${event.retryable ? ' (retryable)' : ''}`,
            ),
          );
          block.dataset['state'] = event.code === 'CANCELLED' ? 'cancelled' : 'failed';
          break;
      }
      scroll();
    },
    notice(text) {
      root.append(h('li', { class: 'notice' }, text));
      scroll();
    },
  };
}
