import { z } from 'zod';
import type { AgentDefinition, ToolDefinition } from '@tracewire/server';

/**
 * Message that makes the firehose agent emit `count` `message_delta` events of `size`
 * characters each (the child-process entry `firehoseServer.mjs` understands the same text).
 */
export const firehoseMessage = (count: number, size = 8): string => `firehose ${count} ${size}`;

/** Parses {@link firehoseMessage}; defaults to 100 deltas of 8 characters. */
export function parseFirehose(content: string): { count: number; size: number } {
  const m = /firehose (\d+)(?: (\d+))?/.exec(content);
  return { count: Number(m?.[1] ?? 100), size: Math.max(1, Number(m?.[2] ?? 8)) };
}

const echoTool: ToolDefinition<{ n: number }, { n: number }> = {
  name: 'echo',
  description: 'Returns its input after a random pause of up to 3 ms',
  args: z.object({ n: z.number() }),
  execute: async ({ n }) => {
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 3)));
    return { n };
  },
};

/**
 * Test agent `firehose`: emits N deltas as fast as the log takes them (no pacing), so a
 * handful of runs produce tens of thousands of events. Each delta carries its index, so
 * order is visible in the payload too.
 */
export const firehoseAgent: AgentDefinition = {
  name: 'firehose',
  description: 'Emits N message_delta events quickly (tests only)',
  tools: [echoTool],
  async run(ctx) {
    const { count, size } = parseFirehose(ctx.message.content);
    for (let i = 0; i < count; i++) {
      const label = `${i};`;
      await ctx.delta(label.padEnd(size, '.'));
    }
  },
};

/**
 * Test agent `juggler`: produces tool calls and deltas concurrently (`Promise.all` of
 * `ctx.delta` and `ctx.callTool`), to check that one thread's events are still appended
 * and delivered in one contiguous seq order.
 */
export const jugglerAgent: AgentDefinition = {
  name: 'juggler',
  description: 'Interleaves concurrent tool calls and deltas (tests only)',
  tools: [echoTool],
  async run(ctx) {
    const { count } = parseFirehose(ctx.message.content);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      work.push(i % 3 === 0 ? ctx.callTool('echo', { n: i }) : ctx.delta(`${i};`));
    }
    await Promise.all(work);
  },
};
