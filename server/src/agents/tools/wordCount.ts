import { z } from 'zod';
import { defineTool } from '../define.js';
import { fromSync } from './fromSync.js';

/** Counts words, characters and sentences of a text (a cheap, deterministic tool). */
export const wordCountTool = defineTool({
  name: 'wordCount',
  description: 'Counts the words, characters and sentences of a text.',
  args: z.object({ text: z.string().max(100_000) }),
  execute: ({ text }, ctx) =>
    fromSync(() => {
      ctx.signal.throwIfAborted();
      const words = text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
      const sentences = text.split(/[.!?]+/).filter((s) => /[\p{L}\p{N}]/u.test(s)).length;
      return { words, characters: [...text].length, sentences };
    }),
});
