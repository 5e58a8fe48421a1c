import { AppError } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { createTestToolContext } from '../__tests__/toolContext.js';
import { calculatorTool } from './calculator.js';
import { evaluateExpression } from './expression.js';

describe('evaluateExpression', () => {
  test.each([
    ['1 + 2', 3],
    ['2 + 3 * 4', 14],
    ['(2 + 3) * 4', 20],
    ['10 - 4 - 3', 3],
    ['100 / 10 / 2', 5],
    ['7 % 3', 1],
    ['2 ^ 10', 1024],
    ['2 ^ 3 ^ 2', 512],
    ['-2 ^ 2', -4],
    ['(-2) ^ 2', 4],
    ['2 ^ -1', 0.5],
    ['-3 + 5', 2],
    ['--3', 3],
    ['+4', 4],
    ['-(2 + 3)', -5],
    ['1.5 * 2', 3],
    ['.5 + .25', 0.75],
    ['3.', 3],
    ['0.1 + 0.2', 0.3],
    ['sqrt(16)', 4],
    ['sqrt(2) * sqrt(2)', 2],
    ['abs(-7.5)', 7.5],
    ['round(2.5)', 3],
    ['round(-2.4)', -2],
    ['min(4, 2, 8)', 2],
    ['max(4, 2 * 5, 8)', 10],
    ['max(1)', 1],
    ['SQRT(9) + Max(1, 2)', 5],
    ['2 * pi', 6.28318530718],
    ['((((1))))', 1],
    ['  42  ', 42],
    ['-0 * 5', 0],
  ])('evaluates %s to %d', (expression, expected) => {
    expect(evaluateExpression(expression)).toBe(expected);
  });

  test.each([
    ['1 / 0', 'Division by zero'],
    ['5 % 0', 'Modulo by zero'],
    ['1 / (2 - 2)', 'Division by zero'],
    ['', 'Empty expression'],
    ['   ', 'Empty expression'],
    ['1 +', 'Unexpected end of expression'],
    ['(1 + 2', "Expected ')' but found end of expression"],
    ['1 + 2)', "Unexpected ')' at position 6"],
    ['2 3', 'Unexpected number 3 at position 3'],
    ['2 $ 3', "Unexpected character '$' at position 3"],
    ['1..2', 'Malformed number at position 1'],
    ['1 + .', "Unexpected character '.' at position 5"],
    ['1.2.3', 'Malformed number at position 1'],
    ['foo(1)', "Unknown function or constant 'foo'"],
    ['sqrt 4', "Expected '(' but found number 4 at position 6"],
    ['sqrt(1, 2)', 'sqrt expects 1 argument(s), got 2'],
    ['sqrt(-4)', 'sqrt of a negative number (-4) is not a real number'],
    ['10 ^ 400', 'Result is too large'],
    ['process.exit(1)', "Unexpected character '.' at position 8"],
    ['process(1)', "Unknown function or constant 'process'"],
    ['1'.repeat(201), 'longer than 200 characters'],
  ])('rejects %j with a clear message', (expression, message) => {
    let caught: unknown;
    try {
      evaluateExpression(expression);
    } catch (error) {
      caught = error;
    }
    expect(AppError.is(caught)).toBe(true);
    expect((caught as AppError).code).toBe('BAD_REQUEST');
    expect((caught as AppError).message).toContain(message);
  });
});

describe('evaluateExpression at the length limit (200 characters)', () => {
  test.each([
    ['nested parentheses', '('.repeat(99) + '1' + ')'.repeat(99), 1],
    ['a chain of unary minus', '-'.repeat(198) + '1', 1],
    ['a 200-digit number', '9'.repeat(200), 1e200],
    ['a long sum', '1+'.repeat(99) + '1', 100],
    ['nested function calls', 'abs('.repeat(39) + '1' + ')'.repeat(39), 1],
  ])('evaluates %s', (_name, expression, expected) => {
    expect(expression.length).toBeLessThanOrEqual(200);
    expect(evaluateExpression(expression)).toBe(expected);
  });

  test('a tower of powers is refused as too large, not computed forever', () => {
    expect(() => evaluateExpression('9^'.repeat(99) + '9')).toThrow('Result is too large');
  });
});

describe('calculatorTool', () => {
  test('returns the expression and its value', async () => {
    const result = await calculatorTool.execute({ expression: '6 * 7' }, createTestToolContext());
    expect(result).toEqual({ expression: '6 * 7', value: 42 });
  });

  test('validates its arguments: a string of 1 to 200 characters', () => {
    expect(calculatorTool.args.safeParse({ expression: '1+1' }).success).toBe(true);
    expect(calculatorTool.args.safeParse({ expression: '' }).success).toBe(false);
    expect(calculatorTool.args.safeParse({ expression: '1'.repeat(201) }).success).toBe(false);
    expect(calculatorTool.args.safeParse({ expression: 3 }).success).toBe(false);
  });

  test('refuses to start when its signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(
      calculatorTool.execute({ expression: '1 + 1' }, createTestToolContext(controller.signal)),
    ).rejects.toThrow('stop');
  });
});
