import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CLOSE_CODES, createClientMessageId } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { startOtlpReceiver } from '../../otel/src/__tests__/otlpReceiver.js';
import { defineAgent, defineTool } from '../../server/src/agents/index.js';
import { startChildServer } from '../helpers/childServer.js';
import { collectUntil, sendAndCollect } from '../helpers/collect.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { openRawSocket } from '../helpers/rawWs.js';
import { startTestServer } from '../helpers/server.js';
import { inputQuery, rawTrpc } from '../helpers/trpcHttp.js';

/**
 * The effect of configuration variables no other test exercises (the list of which test
 * covers which variable is in configCoverage.test.ts): each is set to a non-default value
 * and the server's behaviour, seen from outside, is checked.
 */

/** A free loopback port (closed again before use: the server binds it right after). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('process settings', () => {
  test('HOST and PORT: the server listens exactly there and says so', async () => {
    const port = await freePort();
    await using srv = await startChildServer({ port, env: { HOST: '127.0.0.1' } });
    expect(srv.output()).toContain(`Tracewire listening on http://127.0.0.1:${port}\n`);
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
  });

  test('TRACEWIRE_DATA_DIR: the SQLite file lives there and its threads survive a restart', async () => {
    await using first = await startChildServer();
    const token = await first.tokenFor('keeper');
    await rawTrpc(first.url, 'chat.createThread', {
      token,
      method: 'POST',
      body: JSON.stringify({ json: { title: 'kept' } }),
    });
    expect(existsSync(join(first.dataDir, 'tracewire.db'))).toBe(true);
    await first.stop();
    // The same TRACEWIRE_DATA_DIR (the helper passes `dataDir` as that variable).
    await using second = await startChildServer({ dataDir: first.dataDir });
    const listed = await rawTrpc(second.url, 'chat.listThreads', { token, query: inputQuery({}) });
    expect(listed.text).toContain('"title":"kept"');
  });

  test('TRACEWIRE_LOG_LEVEL: info lines appear at info and not at warn', async () => {
    const refusedCall = (url: string) =>
      rawTrpc(url, 'chat.listThreads', { query: inputQuery({}) });
    await using info = await startChildServer({ env: { TRACEWIRE_LOG_LEVEL: 'info' } });
    await refusedCall(info.url);
    expect(await info.waitForLine(/"level":30.*"msg":"call refused"/)).toContain('UNAUTHORIZED');
    await using warn = await startChildServer({ env: { TRACEWIRE_LOG_LEVEL: 'warn' } });
    await refusedCall(warn.url);
    await new Promise((r) => setTimeout(r, 300));
    expect(warn.output()).not.toContain('"level":30');
  });

  test('TRACEWIRE_OTLP_EXPORT_THREAD: spans are exported from the worker thread', async () => {
    await using receiver = await startOtlpReceiver();
    await using srv = await startChildServer({
      env: {
        TRACEWIRE_OTLP_EXPORT_THREAD: 'true',
        TRACEWIRE_LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
    });
    expect(await srv.waitForLine(/"msg":"telemetry started"/)).toContain('"exportThread":true');
    await rawTrpc(srv.url, 'chat.listThreads', {
      token: await srv.tokenFor('traced'),
      query: inputQuery({}),
    });
    for (let i = 0; i < 100 && receiver.spans().length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(receiver.spans().some((s) => s.service === 'tracewire')).toBe(true);
  });
});

describe('limits', () => {
  test('TRACEWIRE_WS_MAX_JSON_DEPTH: a frame deeper than the setting closes with PROTOCOL_ERROR, one within it is answered', async () => {
    let nested: unknown = 1;
    for (let i = 0; i < 12; i++) nested = [nested];
    const frame = {
      id: 1,
      method: 'query',
      params: { path: 'chat.listThreads', input: { json: { deep: nested } } },
    };
    await using strict = await startTestServer({ env: { TRACEWIRE_WS_MAX_JSON_DEPTH: '8' } });
    await using refused = await openRawSocket(strict.wsUrl, {
      token: await strict.tokenFor('deep'),
    });
    refused.send(frame);
    expect((await refused.closed).code).toBe(CLOSE_CODES.PROTOCOL_ERROR);
    await using lenient = await startTestServer();
    await using answered = await openRawSocket(lenient.wsUrl, {
      token: await lenient.tokenFor('deep'),
    });
    answered.send(frame);
    expect(await answered.waitFor((f) => (f as { id?: number }).id === 1)).toMatchObject({
      result: { type: 'data' },
    });
  });

  test('TRACEWIRE_TOOL_TIMEOUT_MS: a tool without its own timeout is cut at the configured time', async () => {
    const stall = defineTool({
      name: 'stall',
      description: 'Never settles.',
      args: z.object({}),
      execute: () => new Promise<never>(() => undefined),
    });
    const agent = defineAgent({
      name: 'staller',
      description: 'Calls a tool that never answers.',
      tools: [stall],
      async run(ctx) {
        await ctx.callTool('stall', {});
        await ctx.delta('done');
      },
    });
    await using srv = await startTestServer({
      env: { TRACEWIRE_TOOL_TIMEOUT_MS: '250' },
      overrides: { agents: [agent] },
    });
    await using client = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('patient'),
      transport: 'ws',
    });
    const thread = await client.trpc.chat.createThread.mutate({});
    const { received } = await sendAndCollect(client.trpc, {
      threadId: thread.id,
      content: 'go',
      clientMessageId: createClientMessageId(),
    });
    expect(received.map((r) => r.data).find((e) => e.type === 'tool_completed')).toMatchObject({
      tool: 'stall',
      ok: false,
      error: { code: 'TIMEOUT', message: 'Tool "stall" timed out after 250 ms' },
    });
  });

  test('TRACEWIRE_RETENTION_MAX_AGE_MS: events older than the setting are dropped, so resuming from before them is a resync', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_RETENTION_MAX_AGE_MS: '1000' } });
    await using client = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('forgetful'),
      transport: 'ws',
    });
    const thread = await client.trpc.chat.createThread.mutate({});
    const { lastEventId: beforeAll } = await client.trpc.chat.history.query({
      threadId: thread.id,
    });
    const send = () =>
      sendAndCollect(client.trpc, {
        threadId: thread.id,
        content: 'hello',
        clientMessageId: createClientMessageId(),
      });
    await send();
    await new Promise((r) => setTimeout(r, 1_300));
    await send(); // appending prunes what is older than the setting
    const resumed = await collectUntil(
      (handlers) =>
        client.trpc.agent.events.subscribe(
          { threadId: thread.id, lastEventId: beforeAll },
          handlers,
        ),
      () => true,
    );
    expect(resumed[0]?.data).toMatchObject({ type: 'resync', reason: 'retention' });
  });
});
