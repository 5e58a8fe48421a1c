import {
  AppError,
  createClientMessageId,
  isTerminalEvent,
  type AgentEvent,
} from '@tracewire/shared';
import { defineAgent, defineTool } from '../../server/src/agents/index.js';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { collectUntil } from '../helpers/collect.js';
import { createPlainClient, type PlainClient } from '../helpers/plainClient.js';
import { startTestServer } from '../helpers/server.js';

/** Switches for the test tools, flipped by the tests. */
const switches = { flakyHealthy: false };

const hang = defineTool({
  name: 'hang',
  description: 'Never settles and ignores its signal.',
  args: z.object({}),
  timeoutMs: 150,
  execute: () => new Promise<never>(() => undefined),
});
const flaky = defineTool({
  name: 'flaky',
  description: 'Fails with UNAVAILABLE until switched healthy.',
  args: z.object({}),
  execute: () =>
    switches.flakyHealthy
      ? Promise.resolve({ ok: 1 })
      : Promise.reject(new AppError('UNAVAILABLE', 'downstream is down')),
});
const echo = defineTool({
  name: 'echo',
  description: 'Returns its input.',
  args: z.object({ text: z.string() }),
  execute: ({ text }) => Promise.resolve({ text }),
});

/** Calls the tools named in the message (in order), keeps going on failures, then answers. */
const tester = defineAgent({
  name: 'tester',
  description: 'Security test agent',
  tools: [hang, flaky, echo],
  async run(ctx) {
    const words = ctx.message.content.split(/\s+/);
    if (words.includes('stuck')) await new Promise<never>(() => undefined);
    for (const w of words) {
      if (w === 'hang') await ctx.callTool('hang', {});
      if (w === 'flaky') await ctx.callTool('flaky', {});
      if (w === 'echo') await ctx.callTool('echo', { text: 'hi' });
    }
    await ctx.delta('done');
  },
});

async function runOnce(client: PlainClient, content: string): Promise<AgentEvent[]> {
  const thread = await client.trpc.chat.createThread.mutate({});
  let runId: string | undefined = undefined;
  const done = collectUntil(
    (h) => client.trpc.agent.events.subscribe({ threadId: thread.id }, h),
    (e) => isTerminalEvent(e) && e.runId === runId,
  );
  await new Promise((r) => setTimeout(r, 50));
  runId = (
    await client.trpc.chat.send.mutate({
      threadId: thread.id,
      content,
      clientMessageId: createClientMessageId(),
    })
  ).run.id;
  return (await done)
    .map((r) => r.data)
    .filter((e): e is AgentEvent => e.type !== 'stream_position' && e.type !== 'resync');
}

const toolResults = (events: AgentEvent[]) =>
  events.flatMap((e) =>
    e.type === 'tool_completed'
      ? [
          e.ok
            ? { tool: e.tool, ok: e.ok, code: undefined, message: '' }
            : { tool: e.tool, ok: e.ok, code: e.error.code, message: e.error.message },
        ]
      : [],
  );

describe('tool safety end to end', () => {
  test('a hanging tool times out with TIMEOUT while another user runs normally at the same time', async () => {
    await using srv = await startTestServer({
      env: { TRACEWIRE_TOOL_BREAKER_FAILURES: '0' },
      overrides: { agents: [tester] },
    });
    await using alice = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('alice'),
      transport: 'ws',
    });
    await using bob = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('bob'),
      transport: 'http+sse',
    });
    const [a, b] = await Promise.all([runOnce(alice, 'hang hang echo'), runOnce(bob, 'echo echo')]);
    expect(toolResults(a)).toEqual([
      { tool: 'hang', ok: false, code: 'TIMEOUT', message: 'Tool "hang" timed out after 150 ms' },
      { tool: 'hang', ok: false, code: 'TIMEOUT', message: 'Tool "hang" timed out after 150 ms' },
      { tool: 'echo', ok: true, code: undefined, message: '' },
    ]);
    expect(a.at(-1)?.type).toBe('agent_completed');
    expect(toolResults(b).every((r) => r.ok)).toBe(true);
    expect(b.at(-1)?.type).toBe('agent_completed');
  });

  test('an agent stuck on an await that ignores its signal ends with agent_error TIMEOUT; other runs are unaffected', async () => {
    await using srv = await startTestServer({
      env: { TRACEWIRE_RUN_TIMEOUT_MS: '400' },
      overrides: { agents: [tester] },
    });
    await using alice = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('alice'),
      transport: 'ws',
    });
    await using bob = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('bob'),
      transport: 'ws',
    });
    const [a, b] = await Promise.all([runOnce(alice, 'stuck'), runOnce(bob, 'echo')]);
    const last = a.at(-1)!;
    expect(last.type === 'agent_error' && [last.code, last.retryable]).toEqual(['TIMEOUT', true]);
    expect(b.at(-1)?.type).toBe('agent_completed');
    expect(srv.server.services.runs.activeRunCount('alice' as never)).toBe(0);
  });

  test('an always-failing tool opens its circuit breaker for every user, fails fast while open, and closes after a successful probe', async () => {
    switches.flakyHealthy = false;
    await using srv = await startTestServer({
      env: { TRACEWIRE_TOOL_BREAKER_FAILURES: '2', TRACEWIRE_TOOL_BREAKER_COOLDOWN_MS: '300' },
      overrides: { agents: [tester] },
    });
    await using alice = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('alice'),
      transport: 'ws',
    });
    await using bob = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('bob'),
      transport: 'ws',
    });

    const first = toolResults(await runOnce(alice, 'flaky flaky'));
    expect(first.map((r) => r.code)).toEqual(['UNAVAILABLE', 'UNAVAILABLE']);
    expect(first[0]!.message).toBe('downstream is down');
    expect(first[1]!.message).toBe(
      'downstream is down; circuit breaker for "flaky" opened after 2 consecutive failures (calls fail fast with CIRCUIT_OPEN for 300 ms)',
    );

    // Open for everyone (per tool per server), other tools unaffected.
    const bobs = await runOnce(bob, 'flaky echo');
    expect(toolResults(bobs)).toEqual([
      {
        tool: 'flaky',
        ok: false,
        code: 'CIRCUIT_OPEN',
        message: expect.stringMatching(
          /^Tool "flaky" is failing fast: circuit breaker open after 2 consecutive failures; next attempt in \d+ ms$/,
        ),
      },
      { tool: 'echo', ok: true, code: undefined, message: '' },
    ]);
    expect(bobs.at(-1)?.type).toBe('agent_completed');
    expect(srv.server.services.runs.toolBreakerStats()['flaky']).toMatchObject({
      state: 'open',
      opens: 1,
      rejected: 1,
    });

    // A failed probe after the cool-down re-opens it.
    await new Promise((r) => setTimeout(r, 350));
    expect(toolResults(await runOnce(alice, 'flaky'))[0]!.message).toContain(
      're-opened: the probe call failed',
    );
    // The downstream recovers: the next probe closes the breaker.
    switches.flakyHealthy = true;
    await new Promise((r) => setTimeout(r, 350));
    expect(toolResults(await runOnce(bob, 'flaky flaky')).map((r) => r.ok)).toEqual([true, true]);
    expect(srv.server.services.runs.toolBreakerStats()['flaky']).toMatchObject({
      state: 'closed',
      consecutiveFailures: 0,
      opens: 2,
    });
  });
});
