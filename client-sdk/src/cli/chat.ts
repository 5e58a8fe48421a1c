#!/usr/bin/env node
/**
 * `npm run chat`: a terminal client for a Tracewire server, through the SDK.
 *
 * Env: TRACEWIRE_URL (default http://127.0.0.1:3000), TRACEWIRE_TOKEN (required: the dev
 * server prints a demo token at start; or `npm run token`), TRACEWIRE_TRANSPORT
 * (ws+http | ws | http+sse), TRACEWIRE_AGENT (the new thread's agent, e.g. `demo` or `llm`;
 * the server's default when unset), NO_COLOR. Reads one message per line from stdin; piped input
 * sends each line, waits for its run to end, and exits at EOF.
 */
import { createInterface } from 'node:readline';
import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';
import { createTracewireClient } from '../client.js';
import { getErrorInfo } from '../errors.js';
import type { TransportMode } from '../links.js';
import { runChat } from './runChat.js';

const TRANSPORTS: readonly TransportMode[] = ['ws+http', 'ws', 'http+sse'];

async function main(): Promise<number> {
  const url = process.env['TRACEWIRE_URL'] ?? 'http://127.0.0.1:3000';
  const token = process.env['TRACEWIRE_TOKEN'];
  if (!token) {
    process.stderr.write(
      [
        'TRACEWIRE_TOKEN is not set.',
        'Start the server (`npm start`): in development it prints a demo token. Then:',
        '  TRACEWIRE_TOKEN=<token> npm run chat',
        'or mint one for a user with `npm run token -- --user <id>` (uses TRACEWIRE_AUTH_SECRET,',
        'or the dev secret when unset).',
        '',
      ].join('\n'),
    );
    return 2;
  }
  const transport = (process.env['TRACEWIRE_TRANSPORT'] ?? 'ws+http') as TransportMode;
  if (!TRANSPORTS.includes(transport)) {
    process.stderr.write(`TRACEWIRE_TRANSPORT must be one of ${TRANSPORTS.join(', ')}\n`);
    return 2;
  }
  const interactive = process.stdin.isTTY === true;
  const color = process.stdout.isTTY === true && !process.env['NO_COLOR'];
  const client = createTracewireClient({ url, token, transport, WebSocket, EventSource });
  // With an output, a terminal echoes what the user types (readline writes it there).
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: interactive,
  });
  // Attach the line iterator now: readline drops lines (and the close) emitted before it
  // exists, which happens with piped stdin while the thread is being created.
  const lineIterator = rl[Symbol.asyncIterator]();
  let activeRun: string | null = null;
  rl.on('SIGINT', () => {
    if (activeRun) {
      process.stdout.write('\n(cancelling the run; Ctrl+C again to quit)\n');
      const runId = activeRun;
      activeRun = null;
      client.trpc.chat.cancel.mutate({ runId }).catch(() => undefined);
    } else {
      rl.close();
    }
  });
  try {
    const summary = await runChat({
      client,
      lines: { [Symbol.asyncIterator]: () => lineIterator },
      write: (text) => process.stdout.write(text),
      color,
      prompt: interactive ? () => process.stdout.write('> ') : undefined,
      // Piped lines are not echoed by a terminal: the transcript shows them itself.
      echo: !interactive,
      onRunActive: (runId) => (activeRun = runId),
      agent: process.env['TRACEWIRE_AGENT'] || undefined,
    });
    return summary.failures > 0 ? 1 : 0;
  } catch (e) {
    const info = getErrorInfo(e);
    process.stderr.write(`error ${info.appCode}: ${info.message}\n`);
    if (info.appCode === 'UNAVAILABLE')
      process.stderr.write(`Is the server running at ${url}? (npm start)\n`);
    return 1;
  } finally {
    rl.close();
    await client.close();
  }
}

process.exitCode = await main();
