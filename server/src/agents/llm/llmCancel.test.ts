import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { chunk, toolCallReply } from '../../testing/index.js';
import { defineTool } from '../define.js';
import { createLlmHarness } from './__tests__/llmHarness.js';

/** Resolves with `promise`, or fails the test when it takes longer than `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms),
    ),
  ]);
}

describe('chat.cancel stops the LLM agent at once and closes the upstream connection', () => {
  test('while waiting for the first byte', async () => {
    await using h = await createLlmHarness({
      replies: [{ before: 'stall' }],
      agent: { timeoutMs: 30_000 },
    });
    const run = await h.send('hi');
    const [request] = await h.llm.waitForRequests(1);
    await h.engine.manager.cancel(run.id);
    await within(request!.closed, 5000, 'the upstream connection closing');
    expect(request!.abortedByClient).toBe(true);
    expect((await h.finish(run)).end).toMatchObject({ type: 'agent_error', code: 'CANCELLED' });
  });

  test('in the middle of the stream', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          events: [
            chunk({ role: 'assistant', content: '' }),
            chunk({ content: 'Once upon a time' }),
          ],
          done: false,
          after: 'stall',
        },
      ],
      agent: { timeoutMs: 30_000 },
    });
    const run = await h.send('tell a story');
    await h.engine.waitForEvent(run.threadId, (e) => e.type === 'message_delta');
    const [request] = h.llm.requests;
    await h.engine.manager.cancel(run.id);
    await within(request!.closed, 5000, 'the upstream connection closing');
    expect(request!.abortedByClient).toBe(true);
    const { end } = await h.finish(run);
    expect(end).toMatchObject({ code: 'CANCELLED' });
    expect(await h.engine.store.getRun(run.id)).toMatchObject({ status: 'cancelled' });
  });

  test('during the wait before a retry (no retry is made)', async () => {
    await using h = await createLlmHarness({
      replies: [
        {
          status: 429,
          headers: { 'retry-after': '20' },
          body: '{"error":{"message":"slow down"}}',
        },
      ],
      agent: { retryAfterMaxMs: 60_000 },
    });
    const run = await h.send('hi');
    const [request] = await h.llm.waitForRequests(1);
    await within(request!.closed, 5000, 'the 429 response ending');
    await within(h.engine.manager.cancel(run.id), 5000, 'the cancel');
    expect((await h.finish(run)).end).toMatchObject({ code: 'CANCELLED' });
    await new Promise((r) => setTimeout(r, 200));
    expect(h.llm.requests).toHaveLength(1);
  });

  test('while a tool runs (the tool is aborted, the model is not called again)', async () => {
    let toolSignal: AbortSignal | undefined;
    const slowTool = defineTool({
      name: 'slow',
      description: 'Waits until aborted',
      args: z.object({}),
      timeoutMs: 30_000,
      execute: (_args, ctx) =>
        new Promise<never>((_, reject) => {
          toolSignal = ctx.signal;
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
        }),
    });
    await using h = await createLlmHarness({
      replies: [toolCallReply({ id: 'c1', name: 'slow', args: ['{}'] })],
      agent: { tools: [slowTool] },
    });
    const run = await h.send('do the slow thing');
    await h.engine.waitForEvent(run.threadId, (e) => e.type === 'tool_executing');
    await within(h.engine.manager.cancel(run.id), 5000, 'the cancel');
    expect(toolSignal?.aborted).toBe(true);
    expect((await h.finish(run)).end).toMatchObject({ code: 'CANCELLED' });
    await new Promise((r) => setTimeout(r, 100));
    expect(h.llm.requests).toHaveLength(1);
  });
});
