import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { findExpression } from './expressionFinder.js';

/**
 * The regex finder the demo agent used before (quadratic: a `+$` regex and a re-count per
 * pass). Kept here as the reference the linear finder must agree with, on short inputs only.
 */
function referenceFindExpression(text: string): string | null {
  const names = 'sqrt|abs|round|min|max';
  const candidate = new RegExp(
    `(?:\\b(?:${names})(?=\\s*\\()|\\bpi\\b|[\\d.+\\-*/^%(),\\s])+`,
    'gi',
  );
  const hasOperation = new RegExp(`[\\d)]\\s*[-+*/^%]\\s*[-+(\\d.a-z]|\\b(?:${names})\\s*\\(`, 'i');
  const count = (s: string, ch: string) => s.split(ch).length - 1;
  const trim = (raw: string) => {
    let s = raw
      .trim()
      .replace(/^[\s,)*/^%+.]+/, '')
      .replace(/[\s,(+\-*/^%.]+$/, '');
    while (count(s, ')') > count(s, '(') && s.endsWith(')')) s = s.slice(0, -1).trimEnd();
    while (count(s, '(') > count(s, ')') && s.startsWith('(')) s = s.slice(1).trimStart();
    return s;
  };
  for (const match of text.matchAll(candidate)) {
    const s = trim(match[0]);
    if (/\d/.test(s) && hasOperation.test(s)) return s;
  }
  return null;
}

describe('findExpression', () => {
  test.each([
    ['what is 2 + 3 * (4 - 1)?', '2 + 3 * (4 - 1)'],
    ['Compute (2+3)*4.', '(2+3)*4'],
    ['please do 10 / 0, thanks', '10 / 0'],
    ['and sqrt(16) too', 'sqrt(16)'],
    ['max(1, 2) is?', 'max(1, 2)'],
    ['(see 7*6)', '7*6'],
    ['-3 + 5 please', '-3 + 5'],
    ['SQRT (2) * Pi', 'SQRT (2) * Pi'],
    ['amax(2) and 3*x', null],
    ['amax(2) and 3 * 4', '3 * 4'],
    ['I have 3 cats', null],
    ['fail-tool and slow-run', null],
    ['maximum effort', null],
    ['hello', null],
  ])('finds the arithmetic in %j', (text, expected) => {
    expect(findExpression(text)).toBe(expected);
    expect(referenceFindExpression(text)).toBe(expected);
  });

  test('agrees with the regex finder it replaces on any short text', () => {
    const pieces = fc.constantFrom(
      ...'0123456789+-*/^%(),. \t\nxpieAS_'.split(''),
      'sqrt',
      'SQRT',
      'abs',
      'round',
      'min',
      'max',
      'pi',
      'PI',
      '\u00a0',
      '\u2028',
      'words',
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 40 }), (parts) => {
        const text = parts.join('');
        expect(findExpression(text)).toBe(referenceFindExpression(text));
      }),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        expect(findExpression(text)).toBe(referenceFindExpression(text));
      }),
      { numRuns: 5_000 },
    );
  });

  test('answers for the worst inputs of the allowed size (32,000 characters)', () => {
    const n = 32_000;
    const cases: [string, string | null][] = [
      ['1+1' + ')'.repeat(n - 3), '1+1'],
      ['1' + '+'.repeat(n - 2) + '1', '1' + '+'.repeat(n - 2) + '1'],
      ['('.repeat(n - 3) + '1+1', '1+1'],
      // Balanced once the one extra ')' is dropped: kept whole.
      [
        '('.repeat(n / 2 - 2) + '1+1' + ')'.repeat(n / 2 - 1),
        '('.repeat(n / 2 - 2) + '1+1' + ')'.repeat(n / 2 - 2),
      ],
      ['1' + ' '.repeat(n - 2) + 'x', null],
      ['sqrt' + ' '.repeat(n - 5) + 'x', null],
      ['sqrt '.repeat(n / 5), null],
      ['9'.repeat(n), null],
      [') '.repeat(n / 2), null],
      ['1 +'.repeat(n / 3), '1 +'.repeat(n / 3).slice(0, -2)],
      ['a1'.repeat(n / 2), null],
    ];
    for (const [text, expected] of cases) {
      expect(text.length).toBeLessThanOrEqual(n);
      expect(findExpression(text)).toBe(expected);
    }
  });
});
