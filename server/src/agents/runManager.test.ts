import { AppError, isTerminalEvent } from '@tracewire/shared';
import type { AgentEvent, AgentEventOf, RunId, UserId } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createEngineHarness } from './__tests__/engineHarness.js';
import { createDemoAgent } from './demoAgent.js';
import { defineAgent, defineTool } from './define.js';
import { calculatorTool } from './tools/calculator.js';
import type { AgentDefinition } from './types.js';

const demo = createDemoAgent({ slowRunMs: 10_000 });

const hangTool = defineTool({
  name: 'hang',
  description: 'Never settles and ignores its signal',
  args: z.object({}),
  timeoutMs: 30,
  execute: () => new Promise<never>(() => {}),
});

const explodeTool = defineTool({
  name: 'explode',
  description: 'Always throws',
  args: z.object({}),
  execute: () => Promise.reject(new Error('kaboom')),
});

const testAgents: AgentDefinition[] = [
  demo,
  defineAgent({
    name: 'instant',
    description: 'Answers at once',
    tools: [],
    run: (ctx) => ctx.delta('hi'),
  }),
  defineAgent({
    name: 'hangingTool',
    description: 'Calls a tool that hangs',
    tools: [hangTool],
    async run(ctx) {
      const outcome = await ctx.callTool('hang', {});
      await ctx.delta(`outcome: ${outcome.ok ? 'ok' : outcome.error.code}`);
    },
  }),
  defineAgent({
    name: 'throwingTool',
    description: 'Calls a tool that always throws, then gives up',
    tools: [explodeTool],
    async run(ctx) {
      for (let i = 0; i < 3; i++) {
        await ctx.callTool('explode', {});
        await ctx.sleep(5);
      }
      throw new Error('giving up');
    },
  }),
  defineAgent({
    name: 'buggy',
    description: 'Throws a plain error',
    tools: [],
    async run(ctx) {
      await ctx.think('about to fail');
      throw new Error('secret internal detail');
    },
  }),
  defineAgent({
    name: 'ignoresSignal',
    description: 'Never returns and never looks at its signal',
    tools: [],
    async run(ctx) {
      await ctx.think('stuck');
      await new Promise<never>(() => {});
    },
  }),
  defineAgent({
    name: 'badCalls',
    description: 'Calls an unknown tool and a known one with bad arguments',
    tools: [calculatorTool],
    async run(ctx) {
      const unknown = await ctx.callTool('nope', { x: 1 });
      const invalid = await ctx.callTool('calculator', { expression: 5 });
      await ctx.delta(`${String(unknown.ok)} ${String(invalid.ok)}`);
    },
  }),
];

function expectOneTerminalLast(events: AgentEvent[]) {
  expect(events.length).toBeGreaterThan(0);
  expect(events.filter(isTerminalEvent)).toHaveLength(1);
  expect(isTerminalEvent(events.at(-1)!)).toBe(true);
}

function expectContiguousSeq(events: AgentEvent[]) {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => events[0]!.seq + i));
}

const asError = (event: AgentEvent) => event as AgentEventOf<'agent_error'>;

describe('createRunManager', () => {
  test('a run emits agent_started first and exactly one terminal event last, with contiguous seq', async () => {
    await using h = await createEngineHarness({ agents: testAgents, config: { paceMs: 2 } });
    const { run, message } = await h.send({ content: 'What is 2 + 3 * 4? Count the words.' });
    expect(h.manager.activeRunCount(run.userId)).toBe(1);
    await h.waitForEnd(run);

    const events = await h.threadEvents(run.threadId);
    expect(events[0]).toMatchObject({
      type: 'agent_started',
      seq: 1,
      agent: 'demo',
      messageId: message.id,
    });
    expectContiguousSeq(events);
    expectOneTerminalLast(events);
    const completed = events.at(-1) as AgentEventOf<'agent_completed'>;
    expect(completed.type).toBe('agent_completed');
    const answer = events.flatMap((e) => (e.type === 'message_delta' ? [e.delta] : [])).join('');
    expect(completed.message).toMatchObject({ role: 'assistant', runId: run.id, content: answer });
    expect(answer).toContain('2 + 3 * 4 = 14.');
    expect(
      events
        .filter((e) => e.type === 'tool_completed')
        .map((e) => e.type === 'tool_completed' && e.tool),
    ).toEqual(['calculator', 'wordCount', 'clock']);

    const stored = await h.store.getRun(run.id);
    expect(stored).toMatchObject({ status: 'completed', error: null });
    expect(stored!.startedAt).toBeInstanceOf(Date);
    expect(stored!.endedAt).toBeInstanceOf(Date);
    const messages = await h.store.listMessages(run.threadId, { limit: 10 });
    expect(messages.items.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(messages.items[1]!.id).toBe(completed.message.id);
    expect(h.manager.activeRunCount(run.userId)).toBe(0);
  });

  test('cancel mid-run ends it with CANCELLED and status cancelled; a second cancel returns it unchanged', async () => {
    await using h = await createEngineHarness({ agents: testAgents });
    const { run } = await h.send({ content: 'slow-run please' });
    await h.waitForEvent(
      run.threadId,
      (e) => e.type === 'agent_thinking' && e.text.includes('slow-run'),
    );

    const cancelled = await h.manager.cancel(run.id);
    expect(cancelled).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    const events = await h.runEvents(run);
    expectOneTerminalLast(events);
    expect(events.at(-1)).toMatchObject({
      type: 'agent_error',
      code: 'CANCELLED',
      retryable: false,
    });
    expect(h.manager.activeRunCount(run.userId)).toBe(0);

    const again = await h.manager.cancel(run.id);
    expect(again).toEqual(cancelled);
    expect(await h.runEvents(run)).toHaveLength(events.length);
  });

  test('a run whose end cannot be stored at first (storage unavailable) is ended once storage answers again', async () => {
    let refusals = 2;
    await using h = await createEngineHarness({
      agents: [demo],
      wrapLedger: (ledger) => ({
        ...ledger,
        finishRun: (input) =>
          refusals-- > 0
            ? Promise.reject(new AppError('UNAVAILABLE', 'storage unavailable: database is locked'))
            : ledger.finishRun(input),
      }),
    });
    const { run } = await h.send({ content: 'What is 2+2?' });
    const end = await h.waitForEnd(run);
    expect(end.type).toBe('agent_completed');
    expect(refusals).toBe(-1);
    expect((await h.store.getRun(run.id))?.status).toBe('completed');
    expect((await h.runEvents(run)).filter((e) => isTerminalEvent(e))).toHaveLength(1);
  });

  test('cancel of an unknown run is NOT_FOUND', async () => {
    await using h = await createEngineHarness({ agents: testAgents });
    await expect(h.manager.cancel('run_0000000000aaaaaaaaaaaaaaaa' as RunId)).rejects.toSatisfy(
      (e) => AppError.is(e) && e.code === 'NOT_FOUND',
    );
  });

  test('a run that outlives runTimeoutMs ends with TIMEOUT (retryable) and status failed', async () => {
    await using h = await createEngineHarness({ agents: testAgents, config: { runTimeoutMs: 60 } });
    const { run } = await h.send({ content: 'slow-run' });
    const end = asError(await h.waitForEnd(run));
    expect(end).toMatchObject({ type: 'agent_error', code: 'TIMEOUT', retryable: true });
    expect(end.message).toContain('60 ms');
    expect(await h.store.getRun(run.id)).toMatchObject({
      status: 'failed',
      error: { code: 'TIMEOUT' },
    });
  });

  test('an agent that ignores its signal still ends at the run timeout', async () => {
    await using h = await createEngineHarness({ agents: testAgents, config: { runTimeoutMs: 50 } });
    const { run } = await h.send({ content: 'anything', agent: 'ignoresSignal' });
    expect(await h.waitForEnd(run)).toMatchObject({ code: 'TIMEOUT' });
    const events = await h.runEvents(run);
    expect(events.map((e) => e.type)).toEqual(['agent_started', 'agent_thinking', 'agent_error']);
  });

  test('a hanging tool that ignores its signal fails with TIMEOUT and the run still ends', async () => {
    await using h = await createEngineHarness({ agents: testAgents });
    const { run } = await h.send({ content: 'go', agent: 'hangingTool' });
    expect(await h.waitForEnd(run)).toMatchObject({ type: 'agent_completed' });
    const events = await h.runEvents(run);
    const executing = events.find(
      (e) => e.type === 'tool_executing',
    ) as AgentEventOf<'tool_executing'>;
    const completed = events.find(
      (e) => e.type === 'tool_completed',
    ) as AgentEventOf<'tool_completed'>;
    expect(completed).toMatchObject({
      tool: 'hang',
      ok: false,
      error: { code: 'TIMEOUT', message: 'Tool "hang" timed out after 30 ms' },
    });
    expect(completed.durationMs).toBeGreaterThanOrEqual(25);
    expect(executing.toolCallId).toBe(completed.toolCallId);
    expect(events.find((e) => e.type === 'message_delta')).toMatchObject({
      delta: 'outcome: TIMEOUT',
    });
  });

  test('unknown tools and invalid arguments are failed tool calls, not run failures', async () => {
    await using h = await createEngineHarness({ agents: testAgents });
    const { run } = await h.send({ content: 'go', agent: 'badCalls' });
    expect(await h.waitForEnd(run)).toMatchObject({
      type: 'agent_completed',
      message: { content: 'false false' },
    });
    const events = await h.runEvents(run);
    expect(events.map((e) => e.type)).toEqual([
      'agent_started',
      'tool_executing',
      'tool_completed',
      'tool_executing',
      'tool_completed',
      'message_delta',
      'agent_completed',
    ]);
    expect(events[2]).toMatchObject({ tool: 'nope', ok: false, error: { code: 'NOT_FOUND' } });
    expect(events[4]).toMatchObject({
      tool: 'calculator',
      ok: false,
      error: { code: 'BAD_REQUEST' },
    });
    const failed = events[4] as AgentEventOf<'tool_completed'> & { ok: false };
    expect(failed.error.message).toContain('expression');
  });

  test("an always-throwing tool fails its own run with TOOL_FAILED and does not affect another user's run", async () => {
    await using h = await createEngineHarness({ agents: testAgents, config: { paceMs: 2 } });
    const a = await h.send({ content: 'boom', userId: 'user-a', agent: 'throwingTool' });
    const b = await h.send({ content: 'what is 6*7', userId: 'user-b' });
    expect(h.manager.activeRunCount('user-a' as UserId)).toBe(1);
    expect(h.manager.activeRunCount('user-b' as UserId)).toBe(1);

    const [endA, endB] = await Promise.all([h.waitForEnd(a.run), h.waitForEnd(b.run)]);
    expect(endA).toMatchObject({ type: 'agent_error', code: 'TOOL_FAILED', retryable: false });
    expect(asError(endA).message).not.toContain('giving up');
    expect(endB).toMatchObject({ type: 'agent_completed' });
    expect((endB as AgentEventOf<'agent_completed'>).message.content).toContain('6*7 = 42.');
    const toolResults = (await h.runEvents(a.run)).filter((e) => e.type === 'tool_completed');
    expect(toolResults).toHaveLength(3);
    expect(toolResults[0]).toMatchObject({
      ok: false,
      error: { code: 'INTERNAL', message: 'kaboom' },
    });
    expect(await h.store.getRun(a.run.id)).toMatchObject({
      status: 'failed',
      error: { code: 'TOOL_FAILED' },
    });
    expect(h.manager.activeRunCount('user-a' as UserId)).toBe(0);
    expect(h.manager.activeRunCount('user-b' as UserId)).toBe(0);
  });

  test('the demo fail-tool trigger ends the run with TOOL_FAILED', async () => {
    await using h = await createEngineHarness({ agents: testAgents });
    const { run } = await h.send({ content: 'fail-tool' });
    const end = asError(await h.waitForEnd(run));
    expect(end).toMatchObject({ code: 'TOOL_FAILED', retryable: false });
    expect(end.message).toContain('alwaysFails');
  });

  test('an agent that throws ends with INTERNAL (retryable) without leaking the error text', async () => {
    await using h = await createEngineHarness({ agents: testAgents });
    const { run } = await h.send({ content: 'x', agent: 'buggy' });
    const end = asError(await h.waitForEnd(run));
    expect(end).toMatchObject({ code: 'INTERNAL', retryable: true });
    expect(end.message).not.toContain('secret');
    expect(await h.store.getRun(run.id)).toMatchObject({
      status: 'failed',
      error: { code: 'INTERNAL' },
    });
  });

  test('a run for an agent that is not registered ends with INTERNAL', async () => {
    await using h = await createEngineHarness({ agents: testAgents });
    const { run } = await h.send({ content: 'x', agent: 'ghost' });
    const end = asError(await h.waitForEnd(run));
    expect(end).toMatchObject({ code: 'INTERNAL', message: 'Unknown agent "ghost"' });
  });

  test('shutdown lets a fast run finish within the grace period and ends a slow one with SHUTDOWN', async () => {
    await using h = await createEngineHarness({ agents: testAgents, config: { paceMs: 2 } });
    const fast = await h.send({ content: 'what is 1+1' });
    const slow = await h.send({ content: 'slow-run' });
    await h.waitForEvent(
      slow.run.threadId,
      (e) => e.type === 'agent_thinking' && e.text.includes('slow-run'),
    );

    await h.manager.shutdown(1000);
    expect(h.manager.activeRunCount(fast.run.userId)).toBe(0);
    expect((await h.runEvents(fast.run)).at(-1)).toMatchObject({ type: 'agent_completed' });
    const slowEvents = await h.runEvents(slow.run);
    expectOneTerminalLast(slowEvents);
    expect(slowEvents.at(-1)).toMatchObject({
      type: 'agent_error',
      code: 'SHUTDOWN',
      retryable: true,
    });
    expect(await h.store.getRun(slow.run.id)).toMatchObject({
      status: 'failed',
      error: { code: 'SHUTDOWN' },
    });

    const late = await h.send({ content: 'too late' });
    const lateEnd = await h.waitForEnd(late.run);
    expect(lateEnd).toMatchObject({ type: 'agent_error', code: 'SHUTDOWN', retryable: true });
    expect((await h.runEvents(late.run)).map((e) => e.type)).toEqual(['agent_error']);
  });

  test('reconcile() ends runs a previous process left queued or running, gives a finished run its missing terminal event, and adds nothing when run again', async () => {
    await using h = await createEngineHarness({ agents: testAgents });
    const queued = await h.createRun({ content: 'left queued' });
    const running = await h.createRun({ content: 'left running' });
    await h.store.updateRun(running.run.id, { status: 'running', startedAt: new Date() });
    // The crash of issue 22: the record ended, its terminal event never written.
    const finished = await h.createRun({ content: 'already done' });
    await h.store.updateRun(finished.run.id, { status: 'running', startedAt: new Date() });
    const { message: answer } = await h.store.completeRun({
      runId: finished.run.id,
      content: 'ok',
    });

    expect(await h.manager.reconcile()).toMatchObject({ ended: 2, emitted: 1, failed: 0 });
    for (const { run } of [queued, running]) {
      expect(await h.store.getRun(run.id)).toMatchObject({
        status: 'failed',
        error: { code: 'SHUTDOWN' },
      });
      const events = await h.runEvents(run);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'agent_error', code: 'SHUTDOWN', retryable: true });
    }
    const completed = await h.runEvents(finished.run);
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({ type: 'agent_completed', message: answer });
    expect(await h.store.listUnfinishedRuns()).toEqual([]);

    const before = await h.threadEvents(queued.run.threadId);
    expect(await h.manager.reconcile()).toMatchObject({ ended: 0, emitted: 0, recorded: 0 });
    expect(await h.threadEvents(queued.run.threadId)).toEqual(before);
    expect(await h.runEvents(finished.run)).toHaveLength(1);
  });

  test('reconcile() leaves the runs active in this process alone', async () => {
    await using h = await createEngineHarness({ agents: testAgents });
    const { run } = await h.send({ content: 'slow-run please' });
    await h.waitForEvent(
      run.threadId,
      (e) => e.type === 'agent_thinking' && e.text.includes('slow-run'),
    );
    expect(await h.manager.reconcile()).toMatchObject({ ended: 0 });
    expect(await h.store.getRun(run.id)).toMatchObject({ status: 'running' });
    expect((await h.runEvents(run)).filter(isTerminalEvent)).toEqual([]);
    const cancelled = await h.manager.cancel(run.id);
    expect(cancelled).toMatchObject({ status: 'cancelled' });
    expect((await h.runEvents(run)).filter(isTerminalEvent)).toHaveLength(1);
  });

  test('cancel racing completion still yields exactly one terminal event that matches the stored status', async () => {
    await using h = await createEngineHarness({ agents: testAgents });
    const { run: first } = await h.createRun({ content: 'race', agent: 'instant' });
    const outcomes: string[] = [];
    for (let i = 0; i < 24; i++) {
      const { run, message } = await h.createRun({
        content: `race ${i}`,
        agent: 'instant',
        threadId: first.threadId,
      });
      h.manager.start(run, message);
      // Cancel after a growing number of microtask turns, to land in every phase of the run.
      for (let turn = 0; turn < i * 4; turn++) await Promise.resolve();
      const [c1, c2] = await Promise.all([h.manager.cancel(run.id), h.manager.cancel(run.id)]);
      expect(c2).toEqual(c1);
      const events = await h.runEvents(run);
      expectOneTerminalLast(events);
      const terminal = events.at(-1)!;
      if (c1.status === 'completed') expect(terminal.type).toBe('agent_completed');
      else {
        expect(c1.status).toBe('cancelled');
        expect(terminal).toMatchObject({ type: 'agent_error', code: 'CANCELLED' });
      }
      outcomes.push(c1.status);
    }
    expect(outcomes).toHaveLength(24);
    // A cancel issued in the same tick as start always wins: the agent never runs.
    expect(outcomes[0]).toBe('cancelled');
    expectContiguousSeq(await h.threadEvents(first.threadId));
  });

  test('under the thread lock, the assistant message and agent_completed appear together', async () => {
    await using h = await createEngineHarness({ agents: testAgents, config: { paceMs: 1 } });
    const { run } = await h.send({ content: 'what is 3^3?' });
    let snapshots = 0;
    for (;;) {
      const { ended, assistantMessages, completedEvents } = await h.locks.run(
        run.threadId,
        async () => {
          const messages = await h.store.listMessages(run.threadId, { limit: 10 });
          const events = await h.threadEvents(run.threadId);
          return {
            ended: events.some(isTerminalEvent),
            assistantMessages: messages.items.filter((m) => m.role === 'assistant').length,
            completedEvents: events.filter((e) => e.type === 'agent_completed').length,
          };
        },
      );
      snapshots++;
      expect(assistantMessages).toBe(completedEvents);
      if (ended) break;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(snapshots).toBeGreaterThan(1);
    expect(await h.store.getRun(run.id)).toMatchObject({ status: 'completed' });
  });
});
