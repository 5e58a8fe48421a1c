import type { TracewireClient } from '../client.js';
import { getErrorInfo } from '../errors.js';
import { createRenderer } from './render.js';

/** Options of {@link runChat}. */
export interface RunChatOptions {
  client: TracewireClient;
  /** One message per line; the chat ends when it ends. */
  lines: AsyncIterable<string>;
  write: (text: string) => void;
  color: boolean;
  /** Printed before each line is read (interactive terminals). */
  prompt?: (() => void) | undefined;
  /** Write each message as `> message` (input that no terminal echoed, e.g. piped). */
  echo?: boolean | undefined;
  /** Reuse a thread instead of creating one. */
  threadId?: string | undefined;
  /** Agent of the new thread (the server's default when unset). */
  agent?: string | undefined;
  /** Set while a run streams; the CLI cancels it on Ctrl+C. */
  onRunActive?: ((runId: string | null) => void) | undefined;
}

/** Outcome of a chat session. */
export interface ChatSummary {
  threadId: string;
  runs: number;
  /** Runs that ended with `agent_error`, plus sends that failed. */
  failures: number;
}

/**
 * The terminal chat loop: creates a thread, sends each line with `streamRun`, renders the
 * run's events live and waits for its terminal event before reading the next line.
 */
export async function runChat(opts: RunChatOptions): Promise<ChatSummary> {
  const { client, write } = opts;
  const renderer = createRenderer({ color: opts.color });
  const threadId =
    opts.threadId ??
    (
      await client.trpc.chat.createThread.mutate({
        title: 'Terminal chat',
        ...(opts.agent ? { agent: opts.agent } : {}),
      })
    ).id;
  write(`thread ${threadId}\n`);
  let runs = 0;
  let failures = 0;
  opts.prompt?.();
  for await (const raw of opts.lines) {
    const content = raw.trim();
    if (content === '/quit' || content === '/exit') break;
    if (content !== '') {
      runs++;
      if (opts.echo) write(renderer.userMessage(content));
      const run = client.streamRun(threadId, content);
      run.sent.then(
        ({ run: r }) => opts.onRunActive?.(r.id),
        () => undefined,
      );
      try {
        for await (const event of run) {
          write(renderer.render(event));
          if (event.type === 'agent_error') failures++;
        }
      } catch (e) {
        failures++;
        const info = getErrorInfo(e);
        write(
          renderer.error(
            `${info.appCode}: ${info.message}${info.requestId ? ` (request ${info.requestId})` : ''}`,
          ),
        );
      } finally {
        opts.onRunActive?.(null);
      }
    }
    opts.prompt?.();
  }
  return { threadId, runs, failures };
}
