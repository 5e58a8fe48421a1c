import { z } from 'zod';
import { defineTool } from '../define.js';
import { fromSync } from './fromSync.js';
import { MAX_EXPRESSION_LENGTH, evaluateExpression } from './expression.js';

/**
 * Evaluates arithmetic safely (own parser, no `eval`): + - * / % ^, parentheses, unary
 * minus, decimals, pi/e and sqrt/abs/round/min/max. Bad syntax and division by zero fail
 * the call with a BAD_REQUEST error explaining what is wrong.
 */
export const calculatorTool = defineTool({
  name: 'calculator',
  description:
    'Evaluates an arithmetic expression (+ - * / % ^, parentheses, sqrt, abs, round, min, max).',
  args: z.object({ expression: z.string().trim().min(1).max(MAX_EXPRESSION_LENGTH) }),
  execute: ({ expression }, ctx) =>
    fromSync(() => {
      ctx.signal.throwIfAborted();
      return { expression, value: evaluateExpression(expression) };
    }),
});
