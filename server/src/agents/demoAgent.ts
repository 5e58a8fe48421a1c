import { AppError } from '@tracewire/shared';
import { defineAgent } from './define.js';
import { findExpression } from './expressionFinder.js';
import { alwaysFailsTool } from './tools/alwaysFails.js';
import { calculatorTool } from './tools/calculator.js';
import { clockTool } from './tools/clock.js';
import { MAX_EXPRESSION_LENGTH } from './tools/expression.js';
import { wordCountTool } from './tools/wordCount.js';
import type { AgentContext, AgentDefinition } from './types.js';

/** Options of {@link createDemoAgent}. */
export interface DemoAgentOptions {
  /**
   * How long a `slow-run` message pauses before answering.
   * @default 60_000
   */
  slowRunMs?: number;
  /**
   * Words per `message_delta` chunk.
   * @default 4
   */
  wordsPerDelta?: number;
}

/** How an expression is quoted back: one too long for the calculator is shortened. */
function quote(expression: string): string {
  return expression.length > MAX_EXPRESSION_LENGTH
    ? `${expression.slice(0, 57)}... (${expression.length} characters)`
    : expression;
}

/** Splits text into chunks of `size` words, keeping whitespace so the chunks join back exactly. */
export function chunkWords(text: string, size: number): string[] {
  const words = text.match(/\s*\S+\s*/g) ?? [];
  const chunks: string[] = [];
  for (let i = 0; i < words.length; i += size) chunks.push(words.slice(i, i + size).join(''));
  return chunks;
}

const hasWord = (text: string, word: string) =>
  new RegExp(`(?:^|[^\\w-])${word}(?:$|[^\\w-])`, 'i').test(text);

async function pace(ctx: AgentContext): Promise<void> {
  await ctx.sleep(ctx.paceMs);
}

/**
 * Creates the built-in deterministic demo agent (`demo`). For a given message it emits the
 * same event sequence every time (only the clock value, ids and timings differ):
 *
 * 1. two `agent_thinking` chunks (what it read, what it plans to do);
 * 2. `calculator` on the first arithmetic expression in the message, if any
 *    (e.g. `what is 2 + 3 * (4 - 1)?`, `sqrt(16)`); a bad expression or division by zero
 *    is a failed tool call that the answer explains;
 * 3. `wordCount` on the message when it contains the word `word` or `words`;
 * 4. always `clock` with `{ timeZone: 'UTC' }`;
 * 5. the answer built from the tool results, streamed as `message_delta` chunks of a few words.
 *
 * It pauses `ctx.paceMs` between steps (0 = no pauses). Test triggers (whole words):
 * - `slow-run`: waits `slowRunMs` (default 60 s) before its tool calls, for cancel, timeout
 *   and shutdown tests; the wait honours the run's signal.
 * - `fail-tool`: after the clock, calls `alwaysFails`, which always fails, then throws, so
 *   the run ends with `agent_error` TOOL_FAILED (the engine's rule: an agent that throws
 *   after a failed tool call ends with TOOL_FAILED).
 */
export function createDemoAgent(options: DemoAgentOptions = {}): AgentDefinition {
  const slowRunMs = options.slowRunMs ?? 60_000;
  const wordsPerDelta = Math.max(1, options.wordsPerDelta ?? 4);

  return defineAgent({
    name: 'demo',
    description:
      'Deterministic demo agent: thinks, calls calculator/wordCount/clock, streams an answer.',
    tools: [calculatorTool, clockTool, wordCountTool, alwaysFailsTool],
    async run(ctx) {
      const content = ctx.message.content;
      const expression = findExpression(content);
      const countWords = hasWord(content, 'words?');
      const failTool = hasWord(content, 'fail-tool');
      const slowRun = hasWord(content, 'slow-run');

      const preview = content.length > 60 ? `${content.slice(0, 57)}...` : content;
      await ctx.think(`Reading the message: "${preview}"`);
      await pace(ctx);
      const plan = [
        expression ? `evaluate ${quote(expression)} with the calculator` : null,
        countWords ? 'count the words' : null,
        'check the clock in UTC',
        failTool ? 'call a service that is known to fail' : null,
      ].filter((step): step is string => step !== null);
      await ctx.think(`Plan: ${plan.join(', then ')}.`);
      await pace(ctx);

      if (slowRun) {
        await ctx.think('This one takes a while (slow-run).');
        await ctx.sleep(slowRunMs);
      }

      const sentences = ['Here is what I found.'];
      if (expression) {
        const calc = await ctx.callTool<{ value: number }>('calculator', { expression });
        sentences.push(
          calc.ok
            ? `${expression} = ${calc.result.value}.`
            : `I could not compute ${quote(expression)}: ${calc.error.message}.`,
        );
        await pace(ctx);
      } else {
        sentences.push('I did not spot any arithmetic in your message.');
      }
      if (countWords) {
        const wc = await ctx.callTool<{ words: number }>('wordCount', { text: content });
        if (wc.ok) sentences.push(`Your message has ${wc.result.words} words.`);
        await pace(ctx);
      }
      const clock = await ctx.callTool<{ local: string }>('clock', { timeZone: 'UTC' });
      sentences.push(clock.ok ? `It is now ${clock.result.local}.` : 'I could not read the clock.');
      await pace(ctx);

      if (failTool) {
        const failed = await ctx.callTool('alwaysFails', { reason: 'fail-tool requested' });
        if (!failed.ok) {
          throw new AppError('UNAVAILABLE', `The alwaysFails tool failed: ${failed.error.message}`);
        }
      }

      const chunks = chunkWords(sentences.join(' '), wordsPerDelta);
      for (const [i, chunk] of chunks.entries()) {
        if (i > 0) await pace(ctx);
        await ctx.delta(chunk);
      }
    },
  });
}

/** The demo agent with default options (what `npm start` registers). */
export const demoAgent: AgentDefinition = createDemoAgent();
