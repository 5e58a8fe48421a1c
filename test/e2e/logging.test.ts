import { Writable } from 'node:stream';
import { createClientMessageId } from '@tracewire/shared';
import { pino } from 'pino';
import { expect, test } from 'vitest';
import { waitForTerminalInLog } from '../helpers/eventLogRead.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { openRawSocket } from '../helpers/rawWs.js';
import { startTestServer } from '../helpers/server.js';

/** A logger writing JSON lines into an array (what an operator's log collector gets). */
function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const WARN = 40;

test('a refused token is logged once at warn, without a stack; a run start is logged once', async () => {
  const { logger, lines } = captureLogs();
  await using srv = await startTestServer({ logger });

  await using raw = await openRawSocket(srv.wsUrl, { token: 'not-a-jwt' });
  expect((await raw.closed).code).toBe(4001);
  await new Promise((r) => setTimeout(r, 50));
  const refused = lines.filter((l) => l['msg'] === 'websocket login refused');
  expect(refused).toHaveLength(1);
  expect(refused[0]).toMatchObject({ level: WARN, close_code: 4001 });
  expect(JSON.stringify(refused[0])).not.toMatch(/stack|"err"/);
  expect(lines.filter((l) => (l['level'] as number) >= 50)).toEqual([]);

  const token = await srv.tokenFor('alice');
  await using client = createPlainClient({ url: srv.url, token, transport: 'http+sse' });
  const thread = await client.trpc.chat.createThread.mutate({});
  const { run } = await client.trpc.chat.send.mutate({
    threadId: thread.id,
    content: 'hello',
    clientMessageId: createClientMessageId(),
  });
  await waitForTerminalInLog(srv.server.services.events, thread.id, run.id);
  const starts = lines.filter((l) => l['msg'] === 'run started');
  expect(starts).toHaveLength(1);
  expect(starts[0]).toMatchObject({ run_id: run.id, thread_id: thread.id, user_id: 'alice' });
});
