import { createThreadId } from '@tracewire/shared';
import type { Message } from '@tracewire/shared';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { chunkWords, createDemoAgent, demoAgent } from './demoAgent.js';
import { createRunContext } from './runContext.js';
import type { EventBody } from './runContext.js';
import { runningRun } from './__tests__/runningRun.js';

/** Drives the demo agent through a real run context, collecting the events it emits. */
async function runDemo(
  content: string,
  opts: { signal?: AbortSignal; agent?: typeof demoAgent } = {},
) {
  const run = runningRun(createThreadId(), 'demo-user');
  const { threadId } = run;
  const message: Message = {
    id: run.messageId,
    threadId,
    role: 'user',
    content,
    runId: run.id,
    clientMessageId: null,
    createdAt: new Date(),
  };
  const events: EventBody[] = [];
  const agent = opts.agent ?? demoAgent;
  const handle = createRunContext({
    run,
    message,
    agent,
    signal: opts.signal ?? new AbortController().signal,
    log: pino({ level: 'silent' }),
    paceMs: 0,
    toolTimeoutMs: 1000,
    history: () => Promise.resolve([]),
    emit: (body) => {
      events.push(body);
      return Promise.resolve();
    },
  });
  let error: unknown;
  await agent.run(handle.ctx).catch((e: unknown) => (error = e));
  return { events, answer: handle.answer(), error, toolFailures: handle.toolFailures() };
}

/** The parts of an event that must not change between runs (no ids, clock values or timings). */
function stable(event: EventBody): unknown {
  const clockFree = (text: string) => text.replace(/It is now .*?UTC\./, 'It is now <time>.');
  if (event.type === 'agent_thinking') return [event.type, event.text];
  if (event.type === 'message_delta') return [event.type, event.delta.replace(/\d/g, '#')];
  if (event.type === 'tool_executing') return [event.type, event.tool, event.args];
  if (event.type === 'tool_completed') {
    const outcome = event.ok ? event.result : event.error;
    return [event.type, event.tool, event.ok, event.tool === 'clock' ? 'clock' : outcome];
  }
  return [event.type, clockFree(JSON.stringify(event))];
}

describe('chunkWords', () => {
  test('splits into groups of words that join back to the text', () => {
    const text = 'Here is what I found. 2 + 2 = 4.';
    const chunks = chunkWords(text, 3);
    expect(chunks).toEqual(['Here is what ', 'I found. 2 ', '+ 2 = ', '4.']);
    expect(chunks.join('')).toBe(text);
  });
});

describe('demoAgent', () => {
  test('thinks, calls the calculator and the clock, then streams an answer from the results', async () => {
    const { events, answer, error } = await runDemo('What is 2 + 3 * 4?');
    expect(error).toBeUndefined();
    expect(events.map((e) => e.type)).toEqual([
      'agent_thinking',
      'agent_thinking',
      'tool_executing',
      'tool_completed',
      'tool_executing',
      'tool_completed',
      ...events.slice(6).map(() => 'message_delta'),
    ]);
    expect(events.length).toBeGreaterThan(8);
    expect(events[2]).toMatchObject({ tool: 'calculator', args: { expression: '2 + 3 * 4' } });
    expect(events[3]).toMatchObject({ tool: 'calculator', ok: true, result: { value: 14 } });
    expect(events[4]).toMatchObject({ tool: 'clock', args: { timeZone: 'UTC' } });
    expect(answer).toMatch(/^Here is what I found\. 2 \+ 3 \* 4 = 14\. It is now .+ UTC\.$/);
    const deltas = events.flatMap((e) => (e.type === 'message_delta' ? [e.delta] : []));
    expect(deltas.join('')).toBe(answer);
  });

  test('emits the same event sequence for the same message', async () => {
    const message = 'How many words here, and what is sqrt(81) - 1?';
    const first = await runDemo(message);
    const second = await runDemo(message);
    expect(first.events.map(stable)).toEqual(second.events.map(stable));
    expect(first.events.some((e) => e.type === 'tool_executing' && e.tool === 'wordCount')).toBe(
      true,
    );
    expect(first.answer).toContain('sqrt(81) - 1 = 8.');
    expect(first.answer).toContain('Your message has 9 words.');
  });

  test('explains a failed calculation in its answer and still completes', async () => {
    const { events, answer, error, toolFailures } = await runDemo('what is 1 / 0');
    expect(error).toBeUndefined();
    expect(toolFailures).toBe(1);
    expect(events[3]).toMatchObject({
      tool: 'calculator',
      ok: false,
      error: { code: 'BAD_REQUEST', message: 'Division by zero' },
    });
    expect(answer).toContain('I could not compute 1 / 0: Division by zero.');
  });

  test('says so when the message has no arithmetic', async () => {
    const { events, answer } = await runDemo('hello there');
    expect(
      events
        .filter((e) => e.type === 'tool_executing')
        .map((e) => e.type === 'tool_executing' && e.tool),
    ).toEqual(['clock']);
    expect(answer).toContain('I did not spot any arithmetic');
  });

  test('on fail-tool calls a failing tool and throws after it', async () => {
    const { events, error, toolFailures } = await runDemo('please fail-tool now');
    expect(toolFailures).toBe(1);
    expect(events.at(-1)).toMatchObject({ type: 'tool_completed', tool: 'alwaysFails', ok: false });
    expect(events.some((e) => e.type === 'message_delta')).toBe(false);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('alwaysFails');
  });

  test('on slow-run waits until its signal aborts', async () => {
    const controller = new AbortController();
    const agent = createDemoAgent({ slowRunMs: 60_000 });
    setTimeout(() => controller.abort(new Error('stopped by test')), 20);
    const { events, error } = await runDemo('slow-run 1+1', { signal: controller.signal, agent });
    expect((error as Error).message).toBe('stopped by test');
    expect(events.map((e) => e.type)).toEqual([
      'agent_thinking',
      'agent_thinking',
      'agent_thinking',
    ]);
  });
});
