/**
 * Finds the arithmetic in a chat message in one pass over it, with no regular expression
 * that can backtrack: every character is looked at a bounded number of times, so a message
 * of the largest allowed size (32,000 characters) costs well under a millisecond whatever it
 * holds. (The regex version held the event loop for 8 s on `1+1` followed by 32,000 `)`.)
 */

const FUNCTION_NAMES = ['sqrt', 'abs', 'round', 'min', 'max'] as const;

/** JavaScript's `\s` (what `String.prototype.trim` removes). */
function isSpace(code: number): boolean {
  return (
    code === 0x20 ||
    (code >= 0x09 && code <= 0x0d) ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

const isDigit = (code: number) => code >= 0x30 && code <= 0x39;
const isLetter = (code: number) => (code | 0x20) >= 0x61 && (code | 0x20) <= 0x7a;
/** `\w`: letters, digits, underscore. */
const isWord = (code: number) => isDigit(code) || isLetter(code) || code === 0x5f;

/** Characters an expression is made of, besides names: digits, `. + - * / ^ % ( ) ,` and spaces. */
const EXPRESSION_CHARS = new Set([...'.+-*/^%(),'].map((c) => c.charCodeAt(0)));
const isExpressionChar = (code: number) =>
  isDigit(code) || EXPRESSION_CHARS.has(code) || isSpace(code);

const OPERATORS = new Set([...'-+*/^%'].map((c) => c.charCodeAt(0)));
/** What may follow an operator: a sign, `(`, a digit, `.` or a letter. */
const startsOperand = (code: number) =>
  code === 0x2d ||
  code === 0x2b ||
  code === 0x28 ||
  code === 0x2e ||
  isDigit(code) ||
  isLetter(code);

const skipSpaces = (text: string, from: number, end: number) => {
  let i = from;
  while (i < end && isSpace(text.charCodeAt(i))) i++;
  return i;
};

/** Length of the function name starting at `i` (at a word start) when `(` follows it, else 0. */
function functionCallAt(text: string, i: number, end: number): number {
  if (i > 0 && isWord(text.charCodeAt(i - 1))) return 0;
  for (const name of FUNCTION_NAMES) {
    if (i + name.length > end || text.slice(i, i + name.length).toLowerCase() !== name) continue;
    const after = skipSpaces(text, i + name.length, end);
    if (after < end && text.charCodeAt(after) === 0x28) return name.length;
  }
  return 0;
}

/** `pi` as a whole word at `i`. */
function piAt(text: string, i: number, end: number): boolean {
  return (
    i + 2 <= end &&
    text.slice(i, i + 2).toLowerCase() === 'pi' &&
    (i === 0 || !isWord(text.charCodeAt(i - 1))) &&
    (i + 2 === end || !isWord(text.charCodeAt(i + 2)))
  );
}

/**
 * The end of the run of expression material starting at `i` (names followed by `(`, `pi`,
 * digits, operators, parentheses, commas and spaces); `i` itself when there is none.
 * Scanning a name's lookahead re-reads only the spaces the run then consumes.
 */
function runEnd(text: string, i: number): number {
  const end = text.length;
  let j = i;
  while (j < end) {
    const code = text.charCodeAt(j);
    if (isExpressionChar(code)) j++;
    else if (isLetter(code)) {
      const name = functionCallAt(text, j, end) || (piAt(text, j, end) ? 2 : 0);
      if (name === 0) break;
      j += name;
    } else break;
  }
  return j;
}

const LEADING_JUNK = new Set([...',)*/^%+.'].map((c) => c.charCodeAt(0)));
const TRAILING_JUNK = new Set([...',(+-*/^%.'].map((c) => c.charCodeAt(0)));

/**
 * Drops what an expression cannot start or end with, then unmatched edge parentheses;
 * returns the kept range [start, end) of `text`.
 */
function trimRun(text: string, from: number, to: number): [number, number] {
  let start = from;
  let end = to;
  const junkAt = (i: number, junk: Set<number>) => {
    const code = text.charCodeAt(i);
    return isSpace(code) || junk.has(code);
  };
  while (start < end && junkAt(start, LEADING_JUNK)) start++;
  while (end > start && junkAt(end - 1, TRAILING_JUNK)) end--;
  let open = 0;
  let close = 0;
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x28) open++;
    else if (code === 0x29) close++;
  }
  while (close > open && end > start && text.charCodeAt(end - 1) === 0x29) {
    end--;
    close--;
    while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  }
  while (open > close && start < end && text.charCodeAt(start) === 0x28) {
    start++;
    open--;
    start = skipSpaces(text, start, end);
  }
  return [start, end];
}

/** True when [start, end) holds a digit and an operation (`2 + 3`, `4)*5`, `sqrt(`…). */
function hasOperation(text: string, start: number, end: number): boolean {
  let digit = false;
  let operation = false;
  for (let i = start; i < end && !(digit && operation); i++) {
    const code = text.charCodeAt(i);
    if (isDigit(code)) digit = true;
    if (operation) continue;
    if (isDigit(code) || code === 0x29) {
      // Each run of spaces follows exactly one character: read at most twice in all.
      const op = skipSpaces(text, i + 1, end);
      if (op < end && OPERATORS.has(text.charCodeAt(op))) {
        const operand = skipSpaces(text, op + 1, end);
        if (operand < end && startsOperand(text.charCodeAt(operand))) operation = true;
      }
    } else if (isLetter(code) && functionCallAt(text, i, end) > 0) {
      operation = true;
    }
  }
  return digit && operation;
}

/**
 * The first arithmetic expression in a text (digits with an operator, or a function call
 * such as `sqrt(2)`), or null. Deterministic; used by the demo agent to pick the calculator.
 * Linear in the text's length.
 */
export function findExpression(text: string): string | null {
  let i = 0;
  while (i < text.length) {
    const end = runEnd(text, i);
    if (end === i) {
      i++;
      continue;
    }
    const [from, to] = trimRun(text, i, end);
    if (hasOperation(text, from, to)) return text.slice(from, to);
    i = end;
  }
  return null;
}
