/**
 * Finds the arithmetic in a chat message in one pass over it, with no regular expression
 * that can backtrack: every character is looked at a bounded number of times, so a message
 * of the largest allowed size (32,000 characters) costs about a millisecond whatever it
 * holds. (The regex version held the event loop for 8 s on `1+1` followed by 32,000 `)`.)
 */

const FUNCTION_NAMES = ['sqrt', 'abs', 'round', 'min', 'max'] as const;

/** Character classes, one bit each, looked up in a table for ASCII. */
const SPACE = 1;
const DIGIT = 2;
const LETTER = 4;
/** Digits, `. + - * / ^ % ( ) ,` and spaces: what an expression is made of besides names. */
const EXPRESSION = 8;
const OPERATOR = 16;
/** What may follow an operator: a sign, `(`, a digit, `.` or a letter. */
const OPERAND = 32;
/** What an expression cannot start with (besides spaces). */
const LEADING_JUNK = 64;
/** What an expression cannot end with (besides spaces). */
const TRAILING_JUNK = 128;

const ASCII = new Uint8Array(128);
const mark = (chars: string, bits: number) => {
  for (const ch of chars) ASCII[ch.charCodeAt(0)]! |= bits;
};
mark(' \t\n\v\f\r', SPACE | EXPRESSION);
mark('0123456789', DIGIT | EXPRESSION | OPERAND);
mark('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', LETTER | OPERAND);
mark('.+-*/^%(),', EXPRESSION);
mark('-+*/^%', OPERATOR);
mark('-+(.', OPERAND);
mark(',)*/^%+.', LEADING_JUNK);
mark(',(+-*/^%.', TRAILING_JUNK);

/** JavaScript's `\s` beyond ASCII (what `String.prototype.trim` removes too). */
const isWideSpace = (code: number) =>
  code === 0xa0 ||
  code === 0x1680 ||
  (code >= 0x2000 && code <= 0x200a) ||
  code === 0x2028 ||
  code === 0x2029 ||
  code === 0x202f ||
  code === 0x205f ||
  code === 0x3000 ||
  code === 0xfeff;

/** The class bits of a UTF-16 code unit. */
const classOf = (code: number): number =>
  code < 128 ? ASCII[code]! : isWideSpace(code) ? SPACE | EXPRESSION : 0;

const isSpace = (code: number) => (classOf(code) & SPACE) !== 0;
const isDigit = (code: number) => code >= 0x30 && code <= 0x39;
const isLetter = (code: number) => (classOf(code) & LETTER) !== 0;
/** `\w`: letters, digits, underscore. */
const isWord = (code: number) => (classOf(code) & (LETTER | DIGIT)) !== 0 || code === 0x5f;

const skipSpaces = (text: string, from: number, end: number) => {
  let i = from;
  while (i < end && isSpace(text.charCodeAt(i))) i++;
  return i;
};

/** True when `name` (lower case) is at `i`, in any case. Compares codes: no string is built. */
function nameAt(text: string, i: number, name: string): boolean {
  if (i + name.length > text.length) return false;
  for (let k = 0; k < name.length; k++) {
    // `| 0x20` lower-cases an ASCII letter and maps no other code onto one.
    if ((text.charCodeAt(i + k) | 0x20) !== name.charCodeAt(k)) return false;
  }
  return true;
}

/** Length of the function name starting at `i` (at a word start) when `(` follows it, else 0. */
function functionCallAt(text: string, i: number, end: number): number {
  if (i > 0 && isWord(text.charCodeAt(i - 1))) return 0;
  for (const name of FUNCTION_NAMES) {
    if (i + name.length > end || !nameAt(text, i, name)) continue;
    const after = skipSpaces(text, i + name.length, end);
    if (after < end && text.charCodeAt(after) === 0x28) return name.length;
  }
  return 0;
}

/** `pi` as a whole word at `i`. */
function piAt(text: string, i: number, end: number): boolean {
  return (
    i + 2 <= end &&
    nameAt(text, i, 'pi') &&
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
    if ((classOf(code) & EXPRESSION) !== 0) j++;
    else if (isLetter(code)) {
      const name = functionCallAt(text, j, end) || (piAt(text, j, end) ? 2 : 0);
      if (name === 0) break;
      j += name;
    } else break;
  }
  return j;
}

/**
 * Drops what an expression cannot start or end with, then unmatched edge parentheses;
 * returns the kept range [start, end) of `text`.
 */
function trimRun(text: string, from: number, to: number): [number, number] {
  let start = from;
  let end = to;
  const junkAt = (i: number, junk: number) => (classOf(text.charCodeAt(i)) & (SPACE | junk)) !== 0;
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
      if (op < end && (classOf(text.charCodeAt(op)) & OPERATOR) !== 0) {
        const operand = skipSpaces(text, op + 1, end);
        if (operand < end && (classOf(text.charCodeAt(operand)) & OPERAND) !== 0) operation = true;
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
