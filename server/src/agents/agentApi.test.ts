import type { AgentEvent, AgentEventOf } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createEngineHarness } from './__tests__/engineHarness.js';
import { AgentError } from './agentError.js';
import { defineAgent, defineTool } from './define.js';
import { calculatorTool } from './tools/calculator.js';
import { clockTool } from './tools/clock.js';
import type { AgentContext, AgentDefinition, ToolOutcome } from './types.js';

/** An agent whose `run` is the test's: it reports what it saw through `seen`. */
function probeAgent(
  name: string,
  run: (ctx: AgentContext) => Promise<void>,
  tools: AgentDefinition['tools'] = [],
): AgentDefinition {
  return defineAgent({ name, description: 'test probe', tools, run });
}

/** Two tools that each wait until both have started: they finish only when run in parallel. */
function barrierTools() {
  let started = 0;
  let release: () => void = () => {};
  const bothStarted = new Promise<void>((resolve) => (release = resolve));
  const make = (name: string) =>
    defineTool({
      name,
      description: 'waits for its twin',
      args: z.object({ n: z.number() }),
      timeoutMs: 2000,
      async execute({ n }) {
        if (++started === 2) release();
        await bothStarted;
        return { name, n };
      },
    });
  return [make('left'), make('right')] as const;
}

const ofType = <T extends AgentEvent['type']>(events: AgentEvent[], type: T) =>
  events.filter((e): e is AgentEventOf<T> => e.type === type);

describe('the agent API', () => {
  test('history() gives the thread’s earlier messages, oldest first, without the current one', async () => {
    const seen: string[][] = [];
    const agent = probeAgent('historian', async (ctx) => {
      seen.push((await ctx.history()).map((m) => `${m.role}:${m.content}`));
      seen.push((await ctx.history({ limit: 1 })).map((m) => `${m.role}:${m.content}`));
      await ctx.delta(`answer to ${ctx.message.content}`);
    });
    await using h = await createEngineHarness({ agents: [agent] });
    const first = await h.send({ content: 'first', agent: 'historian' });
    await h.waitForEnd(first.run);
    const second = await h.send({
      content: 'second',
      agent: 'historian',
      threadId: first.run.threadId,
    });
    await h.waitForEnd(second.run);
    expect(seen).toEqual([
      [],
      [],
      ['user:first', 'assistant:answer to first'],
      ['assistant:answer to first'],
    ]);
  });

  test('tools lists the agent’s tools with the JSON Schema of their arguments', async () => {
    let tools: AgentContext['tools'] = [];
    const agent = probeAgent(
      'lister',
      (ctx) => {
        tools = ctx.tools;
        return Promise.resolve();
      },
      [calculatorTool, clockTool],
    );
    await using h = await createEngineHarness({ agents: [agent] });
    const { run } = await h.send({ content: 'x', agent: 'lister' });
    await h.waitForEnd(run);
    expect(tools).toEqual([
      {
        name: 'calculator',
        description: calculatorTool.description,
        parameters: {
          type: 'object',
          properties: { expression: { type: 'string', minLength: 1, maxLength: 200 } },
          required: ['expression'],
        },
      },
      {
        name: 'clock',
        description: clockTool.description,
        parameters: {
          type: 'object',
          properties: { timeZone: { type: 'string', minLength: 1, maxLength: 64 } },
        },
      },
    ]);
  });

  test('callTools runs the calls in parallel, announces them in order and returns outcomes in order', async () => {
    const [left, right] = barrierTools();
    let outcomes: ToolOutcome[] = [];
    const agent = probeAgent(
      'parallel',
      async (ctx) => {
        outcomes = await ctx.callTools([
          { name: 'left', args: { n: 1 } },
          { name: 'right', argsJson: '{"n": 2}' },
        ]);
      },
      [left, right],
    );
    await using h = await createEngineHarness({ agents: [agent] });
    const { run } = await h.send({ content: 'go', agent: 'parallel' });
    expect(await h.waitForEnd(run)).toMatchObject({ type: 'agent_completed' });
    expect(outcomes.map((o) => o.ok && o.result)).toEqual([
      { name: 'left', n: 1 },
      { name: 'right', n: 2 },
    ]);
    const events = await h.runEvents(run);
    const executing = ofType(events, 'tool_executing');
    expect(executing.map((e) => [e.tool, e.args])).toEqual([
      ['left', { n: 1 }],
      ['right', { n: 2 }],
    ]);
    // Both started before either finished.
    const firstDone = events.findIndex((e) => e.type === 'tool_completed');
    expect(events.indexOf(executing[1]!)).toBeLessThan(firstDone);
  });

  test('model-written arguments: invalid JSON is a failed call, empty text means no arguments', async () => {
    let outcomes: ToolOutcome[] = [];
    const agent = probeAgent(
      'jsonArgs',
      async (ctx) => {
        outcomes = await ctx.callTools([
          { name: 'calculator', argsJson: '{"expression": "1+' },
          { name: 'clock', argsJson: '' },
          { name: 'calculator', argsJson: '{"expr": "1+1"}' },
          { name: 'nope', argsJson: '{}' },
        ]);
      },
      [calculatorTool, clockTool],
    );
    await using h = await createEngineHarness({ agents: [agent] });
    const { run } = await h.send({ content: 'go', agent: 'jsonArgs' });
    await h.waitForEnd(run);
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.error.code))).toEqual([
      'BAD_REQUEST',
      'ok',
      'BAD_REQUEST',
      'NOT_FOUND',
    ]);
    expect(!outcomes[0]!.ok && outcomes[0]!.error.message).toMatch(
      /Invalid arguments for tool "calculator": not valid JSON/,
    );
    expect(!outcomes[2]!.ok && outcomes[2]!.error.message).toMatch(/expression/);
    const executing = ofType(await h.runEvents(run), 'tool_executing');
    expect(executing.map((e) => e.args)).toEqual(['{"expression": "1+', {}, { expr: '1+1' }, {}]);
  });

  test('textStream coalesces many small pieces into few events, in order, with nothing lost', async () => {
    const agent = probeAgent('streamer', async (ctx) => {
      const text = ctx.textStream({ intervalMs: 40 });
      for (let i = 0; i < 50; i++) {
        text.think(`t${i} `);
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 15));
      }
      for (let i = 0; i < 200; i++) {
        text.delta(`${i},`);
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 15));
      }
      await text.flush();
    });
    await using h = await createEngineHarness({ agents: [agent] });
    const { run } = await h.send({ content: 'go', agent: 'streamer' });
    const end = await h.waitForEnd(run);
    const events = await h.runEvents(run);
    const thinking = ofType(events, 'agent_thinking');
    const deltas = ofType(events, 'message_delta');
    expect(thinking.map((e) => e.text).join('')).toBe(
      Array.from({ length: 50 }, (_, i) => `t${i} `).join(''),
    );
    const answer = Array.from({ length: 200 }, (_, i) => `${i},`).join('');
    expect(deltas.map((e) => e.delta).join('')).toBe(answer);
    expect(end).toMatchObject({ type: 'agent_completed', message: { content: answer } });
    // The first piece leaves at once; then at most one event per interval and kind: with a
    // pause between bursts, at most two events a burst (its leading edge and its tail).
    expect(thinking[0]!.text).toBe('t0 ');
    expect(deltas[0]!.delta).toBe('0,');
    expect(thinking.length).toBeLessThanOrEqual(10);
    expect(deltas.length).toBeLessThanOrEqual(20);
    // Every thought came before the answer started.
    expect(events.indexOf(thinking.at(-1)!)).toBeLessThan(events.indexOf(deltas[0]!));
  });

  test('an AgentError code wins over TOOL_FAILED after a failed tool call', async () => {
    const agent = probeAgent(
      'limited',
      async (ctx) => {
        const outcome = await ctx.callTool('calculator', { expression: '1/0' });
        expect(outcome.ok).toBe(false);
        throw new AgentError('RATE_LIMITED', 'The model endpoint is rate limiting requests');
      },
      [calculatorTool],
    );
    await using h = await createEngineHarness({ agents: [agent] });
    const { run } = await h.send({ content: 'go', agent: 'limited' });
    expect(await h.waitForEnd(run)).toMatchObject({
      type: 'agent_error',
      code: 'RATE_LIMITED',
      message: 'The model endpoint is rate limiting requests',
      retryable: true,
    });
    expect(await h.store.getRun(run.id)).toMatchObject({
      status: 'failed',
      error: { code: 'RATE_LIMITED' },
    });
  });

  test('an AgentError can say it is not retryable', async () => {
    const agent = probeAgent('config', () =>
      Promise.reject(new AgentError('UPSTREAM_ERROR', 'bad request', { retryable: false })),
    );
    await using h = await createEngineHarness({ agents: [agent] });
    const { run } = await h.send({ content: 'go', agent: 'config' });
    expect(await h.waitForEnd(run)).toMatchObject({
      code: 'UPSTREAM_ERROR',
      retryable: false,
    });
  });
});
