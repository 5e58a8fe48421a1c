/**
 * Response budgets: how many bytes of answers one request may make the server build. A
 * batched GET of 50 × `chat.history` on long messages used to build 30–80 MB of JSON
 * before writing any of it. The accounting is transport-free: the HTTP transport gives each
 * request a budget (in its context); a WebSocket transport can give one per batch frame the
 * same way, and the `responseBudget` middleware enforces it for both.
 */

/** The answers of one request, accounted in bytes of JSON. */
export interface ResponseBudget {
  /** Bytes the answers may hold. */
  readonly limitBytes: number;
  /** Bytes charged so far. */
  readonly usedBytes: number;
  /** True once a call was refused: every later call of the request is refused too. */
  readonly exhausted: boolean;
  /**
   * Runs `fn` after every call that entered before it has finished: the calls of one batch
   * run one at a time in batch order, so what the server holds at once is the answers kept
   * so far plus one call's, and the calls answered are always the first ones.
   */
  inTurn<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Charges an answer of `bytes`. False when it does not fit (the budget is then exhausted
   * and nothing is charged), except that the first answer always fits and `force` (an
   * answer to a mutation that already ran) is always charged.
   */
  charge(bytes: number, opts?: { force?: boolean }): boolean;
  /** Marks the budget exhausted (a call refused without running). */
  exhaust(): void;
}

/** Creates the budget of one request. */
export function createResponseBudget(limitBytes: number): ResponseBudget {
  let used = 0;
  let answers = 0;
  let exhausted = false;
  let tail: Promise<unknown> = Promise.resolve();
  const settle = () => undefined;
  return {
    limitBytes,
    get usedBytes() {
      return used;
    },
    get exhausted() {
      return exhausted;
    },
    inTurn(fn) {
      const run = tail.then(fn);
      tail = run.then(settle, settle);
      return run;
    },
    charge(bytes, opts) {
      if (!opts?.force && answers > 0 && (exhausted || used + bytes > limitBytes)) {
        exhausted = true;
        return false;
      }
      used += bytes;
      answers++;
      return true;
    },
    exhaust() {
      exhausted = true;
    },
  };
}

/** The characters JSON escapes (a native scan, so plain text costs no loop in JS). */
// eslint-disable-next-line no-control-regex -- control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

/** Bytes a string takes as a JSON string literal in UTF-8 (escapes included). */
function stringBytes(s: string): number {
  let bytes = Buffer.byteLength(s, 'utf8') + 2;
  if (!NEEDS_ESCAPE.test(s)) return bytes;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code === 0x22 || code === 0x5c || code === 0x08 || code === 0x0c) bytes += 1;
    else if (code === 0x0a || code === 0x0d || code === 0x09) bytes += 1;
    else if (code < 0x20) bytes += 5;
  }
  return bytes;
}

/** Deepest nesting walked; anything deeper counts as one byte (server answers are shallow). */
const MAX_DEPTH = 64;

/**
 * The UTF-8 size of `value` as JSON (what `JSON.stringify` would write; a Date as its ISO
 * string, a Map or Set as the array superjson writes), in one walk that allocates nothing
 * and stops once the count passes `stopAfter`: measuring never costs more than the budget
 * it is measured against (plus the one string that crosses it).
 */
export function jsonByteLength(value: unknown, stopAfter = Number.POSITIVE_INFINITY): number {
  let total = 0;
  const walk = (v: unknown, depth: number): void => {
    if (total > stopAfter) return;
    switch (typeof v) {
      case 'string':
        total += stringBytes(v);
        return;
      case 'number':
        total += Number.isFinite(v) ? String(v).length : 4;
        return;
      case 'boolean':
        total += v ? 4 : 5;
        return;
      case 'bigint':
        total += String(v).length + 2;
        return;
      case 'undefined':
      case 'function':
      case 'symbol':
        total += 4;
        return;
      case 'object':
        break;
    }
    if (v === null || depth > MAX_DEPTH) {
      total += 4;
      return;
    }
    if (v instanceof Date) {
      total += 26;
      return;
    }
    const items = Array.isArray(v) ? v : v instanceof Map || v instanceof Set ? [...v] : null;
    if (items) {
      total += 2 + Math.max(0, items.length - 1);
      for (const item of items) {
        walk(item, depth + 1);
        if (total > stopAfter) return;
      }
      return;
    }
    total += 2;
    let first = true;
    for (const key in v) {
      if (!Object.hasOwn(v, key)) continue;
      total += stringBytes(key) + (first ? 1 : 2);
      first = false;
      walk((v as Record<string, unknown>)[key], depth + 1);
      if (total > stopAfter) return;
    }
  };
  walk(value, 0);
  return total;
}
