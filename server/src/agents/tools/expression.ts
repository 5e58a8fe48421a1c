import { AppError } from '@tracewire/shared';

/** Longest expression the calculator accepts (keeps parsing cheap and recursion shallow). */
export const MAX_EXPRESSION_LENGTH = 200;

type Token =
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'ident'; name: string; pos: number }
  | { kind: 'op'; op: '+' | '-' | '*' | '/' | '^' | '%' | '(' | ')' | ','; pos: number }
  | { kind: 'end'; pos: number };

const OPERATORS = new Set(['+', '-', '*', '/', '^', '%', '(', ')', ',']);

const FUNCTIONS: Record<string, { min: number; max: number; fn: (args: number[]) => number }> = {
  sqrt: {
    min: 1,
    max: 1,
    fn: ([x = 0]) => {
      if (x < 0) throw syntaxError(`sqrt of a negative number (${x}) is not a real number`);
      return Math.sqrt(x);
    },
  },
  abs: { min: 1, max: 1, fn: ([x = 0]) => Math.abs(x) },
  round: { min: 1, max: 1, fn: ([x = 0]) => Math.round(x) },
  min: { min: 1, max: Infinity, fn: (args) => Math.min(...args) },
  max: { min: 1, max: Infinity, fn: (args) => Math.max(...args) },
};

const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E };

function syntaxError(message: string): AppError {
  return new AppError('BAD_REQUEST', message);
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'number':
      return `number ${token.value} at position ${token.pos + 1}`;
    case 'ident':
      return `'${token.name}' at position ${token.pos + 1}`;
    case 'op':
      return `'${token.op}' at position ${token.pos + 1}`;
    case 'end':
      return 'end of expression';
  }
}

/** Sticky: they match at `lastIndex` only, so tokenizing never copies the rest of the source. */
const NUMBER = /\d+(?:\.\d*)?|\.\d+/y;
const NAME = /[a-z]+/iy;

/** The match of a sticky regex at `at`. */
function matchAt(re: RegExp, source: string, at: number): string | undefined {
  re.lastIndex = at;
  return re.exec(source)?.[0];
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === ' ' || ch === '\t') {
      i++;
    } else if (/[0-9]/.test(ch) || (ch === '.' && /[0-9]/.test(source[i + 1] ?? ''))) {
      const text = matchAt(NUMBER, source, i);
      if (!text) throw syntaxError(`Malformed number at position ${i + 1}`);
      if (source[i + text.length] === '.')
        throw syntaxError(`Malformed number at position ${i + 1}`);
      tokens.push({ kind: 'number', value: Number(text), pos: i });
      i += text.length;
    } else if (/[a-z]/i.test(ch)) {
      const name = matchAt(NAME, source, i)!;
      tokens.push({ kind: 'ident', name: name.toLowerCase(), pos: i });
      i += name.length;
    } else if (OPERATORS.has(ch)) {
      tokens.push({ kind: 'op', op: ch as Extract<Token, { kind: 'op' }>['op'], pos: i });
      i++;
    } else {
      throw syntaxError(`Unexpected character '${ch}' at position ${i + 1}`);
    }
  }
  tokens.push({ kind: 'end', pos: source.length });
  return tokens;
}

/**
 * Recursive-descent evaluator. Grammar (lowest precedence first):
 *   expr    := term (('+' | '-') term)*
 *   term    := unary (('*' | '/' | '%') unary)*
 *   unary   := ('-' | '+') unary | power
 *   power   := primary ('^' unary)?          right-associative; -2^2 = -4
 *   primary := number | constant | name '(' expr (',' expr)* ')' | '(' expr ')'
 */
function createParser(tokens: Token[]) {
  let index = 0;
  const peek = (): Token => tokens[index]!;
  const next = (): Token => tokens[index++]!;
  const isOp = (token: Token, op: string): boolean => token.kind === 'op' && token.op === op;
  const expect = (op: string): void => {
    const token = next();
    if (!isOp(token, op)) throw syntaxError(`Expected '${op}' but found ${describe(token)}`);
  };

  function expr(): number {
    let value = term();
    for (let t = peek(); isOp(t, '+') || isOp(t, '-'); t = peek()) {
      next();
      value = isOp(t, '+') ? value + term() : value - term();
    }
    return value;
  }

  function term(): number {
    let value = unary();
    for (let t = peek(); isOp(t, '*') || isOp(t, '/') || isOp(t, '%'); t = peek()) {
      next();
      const right = unary();
      if (isOp(t, '*')) value *= right;
      else if (right === 0) throw syntaxError(isOp(t, '/') ? 'Division by zero' : 'Modulo by zero');
      else value = isOp(t, '/') ? value / right : value % right;
    }
    return value;
  }

  function unary(): number {
    const t = peek();
    if (isOp(t, '-')) {
      next();
      return -unary();
    }
    if (isOp(t, '+')) {
      next();
      return unary();
    }
    return power();
  }

  function power(): number {
    const base = primary();
    if (!isOp(peek(), '^')) return base;
    next();
    return base ** unary();
  }

  function primary(): number {
    const t = next();
    if (t.kind === 'number') return t.value;
    if (isOp(t, '(')) {
      const value = expr();
      expect(')');
      return value;
    }
    if (t.kind === 'ident') return identifier(t.name);
    throw syntaxError(`Unexpected ${describe(t)}`);
  }

  function identifier(name: string): number {
    const constant = CONSTANTS[name];
    if (constant !== undefined) return constant;
    const fn = FUNCTIONS[name];
    if (!fn) {
      const known = [...Object.keys(FUNCTIONS), ...Object.keys(CONSTANTS)].join(', ');
      throw syntaxError(`Unknown function or constant '${name}' (known: ${known})`);
    }
    expect('(');
    const args = [expr()];
    while (isOp(peek(), ',')) {
      next();
      args.push(expr());
    }
    expect(')');
    if (args.length < fn.min || args.length > fn.max) {
      const want = fn.min === fn.max ? `${fn.min}` : `at least ${fn.min}`;
      throw syntaxError(`${name} expects ${want} argument(s), got ${args.length}`);
    }
    return fn.fn(args);
  }

  return {
    parse(): number {
      if (peek().kind === 'end') throw syntaxError('Empty expression');
      const value = expr();
      const rest = peek();
      if (rest.kind !== 'end') throw syntaxError(`Unexpected ${describe(rest)}`);
      return value;
    },
  };
}

/**
 * Evaluates an arithmetic expression without `eval`: + - * / % ^, parentheses, unary
 * minus, decimals, the constants pi and e, and sqrt/abs/round/min/max.
 * Throws `AppError` BAD_REQUEST with a message a user can act on (syntax error, division
 * by zero, non-finite result). Results are rounded to 12 significant digits so that
 * `0.1 + 0.2` reads as `0.3`.
 */
export function evaluateExpression(source: string): number {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw syntaxError(`Expression is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  }
  const value = createParser(tokenize(source)).parse();
  if (Number.isNaN(value)) throw syntaxError('Result is not a number');
  if (!Number.isFinite(value)) throw syntaxError('Result is too large');
  const rounded = Number(value.toPrecision(12));
  return Object.is(rounded, -0) ? 0 : rounded;
}
