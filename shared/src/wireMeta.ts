import { AppError } from './errors.js';

/**
 * Bounds on the superjson annotations (`meta`) a peer may send. superjson 2.2 trusts `meta`:
 * a string where a subtree belongs recurses until the stack overflows, a path into a missing
 * parent throws a TypeError, a long bigint string costs quadratic time, and a reference path
 * into a Map or Set walks it entry by entry. Everything superjson cannot handle cheaply is
 * refused before it sees the payload.
 */
export const WIRE_META_LIMITS = {
  /** Nodes in the `values` tree (a page of 100 threads needs about 300). */
  maxAnnotations: 10_000,
  /** Path segments from the root to any annotated value (the WebSocket JSON depth bound). */
  maxPathDepth: 64,
  /** Paths in `referentialEqualities`. */
  maxReferencePaths: 10_000,
  /** Longest bigint (in characters) revived: parsing is quadratic in the digit count. */
  maxBigintChars: 1_000,
  /** Longest Date or URL string revived. */
  maxScalarChars: 2_048,
} as const;

/** What {@link inspectWireMeta} learned about a payload's annotations. */
export interface WireMetaReport {
  /** The payload aliases objects: the revived value must be checked for cycles. */
  hasReferences: boolean;
}

/** Annotations whose revival is a bounded, side-effect-free constructor call. */
const SIMPLE_TYPES = new Set([
  'undefined',
  'bigint',
  'Date',
  'Error',
  'set',
  'map',
  'number',
  'URL',
]);
const TYPED_ARRAYS = new Set([
  'Int8Array',
  'Uint8Array',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'Uint8ClampedArray',
]);

/** The refusal every malformed annotation gets (one code, a message naming the problem). */
export function wireMetaError(reason: string, cause?: unknown): AppError {
  return new AppError('BAD_REQUEST', `unreadable superjson annotations: ${reason}`, { cause });
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Splits a superjson (v1) path into its segments, as superjson does (`.` separates, `\.` and
 * `\\` escape), stopping once it is deeper than `room`. Returns null for a malformed path.
 */
function pathSegments(path: string, room: number): string[] | null {
  const segments: string[] = [];
  let segment = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i];
    if (ch === '\\') {
      const escaped = path[i + 1];
      if (escaped !== '\\' && escaped !== '.') return null;
      segment += escaped;
      i++;
    } else if (ch === '.') {
      segments.push(segment);
      segment = '';
      if (segments.length > room) return segments;
    } else {
      segment += ch;
    }
  }
  segments.push(segment);
  return segments;
}

/** One step into parsed JSON, or undefined when there is nothing there. */
function child(json: unknown, key: string): unknown {
  if (Array.isArray(json)) {
    const index = Number(key);
    return Number.isInteger(index) && index >= 0 && index < json.length ? json[index] : undefined;
  }
  if (isRecord(json) && Object.hasOwn(json, key)) return json[key];
  return undefined;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

/** Checks one annotation against the JSON value it revives. */
function checkAnnotation(type: unknown, value: unknown, path: string): void {
  const fail = (what: string) => {
    throw wireMetaError(`${what} at "${path}"`);
  };
  if (typeof type === 'string') {
    if (!SIMPLE_TYPES.has(type))
      fail(`annotation ${JSON.stringify(type).slice(0, 40)} not accepted`);
    const text = typeof value === 'string' ? value : null;
    switch (type) {
      case 'bigint':
        if (text === null || text.length > WIRE_META_LIMITS.maxBigintChars || !/^-?\d+$/.test(text))
          fail(`a bigint must be at most ${WIRE_META_LIMITS.maxBigintChars} digits`);
        return;
      case 'Date':
      case 'URL':
      case 'number':
        if (text === null || text.length > WIRE_META_LIMITS.maxScalarChars)
          fail(
            `a ${type} must be a string of at most ${WIRE_META_LIMITS.maxScalarChars} characters`,
          );
        return;
      case 'set':
      case 'map':
        if (!Array.isArray(value)) fail(`a ${type} must be an array`);
        if (
          type === 'map' &&
          !(value as unknown[]).every((e) => Array.isArray(e) && e.length === 2)
        )
          fail('a map must be an array of [key, value] pairs');
        return;
      case 'Error':
        if (!isRecord(value)) fail('an Error must be an object');
        return;
      default:
        return;
    }
  }
  if (
    Array.isArray(type) &&
    type.length === 2 &&
    type[0] === 'typed-array' &&
    typeof type[1] === 'string' &&
    TYPED_ARRAYS.has(type[1])
  ) {
    if (!Array.isArray(value)) fail('a typed array must be an array');
    return;
  }
  // Registered classes, symbols and custom transformers: none is registered on the wire.
  fail('annotation not accepted (no classes, symbols, custom types or regular expressions)');
}

/** A set of paths as a trie of segments: a node is `true` where a marked path ends. */
interface PathTrie {
  end: boolean;
  next: Map<string, PathTrie>;
}

const createTrie = (): PathTrie => ({ end: false, next: new Map() });

/**
 * Adds `segments`; false when it conflicts with a path already there (equal to it, or one
 * being a prefix of the other).
 */
function addPrefixFree(trie: PathTrie, segments: readonly string[]): boolean {
  let node = trie;
  for (const segment of segments) {
    if (node.end) return false;
    let next = node.next.get(segment);
    if (!next) node.next.set(segment, (next = createTrie()));
    node = next;
  }
  if (node.end || node.next.size > 0) return false;
  node.end = true;
  return true;
}

/** True when a proper prefix of `segments` is marked in `trie`. */
function passesThrough(trie: PathTrie, segments: readonly string[]): boolean {
  let node: PathTrie | undefined = trie;
  for (let i = 0; i < segments.length - 1 && node; i++) {
    node = node.next.get(segments[i]!);
    if (node?.end) return true;
  }
  return false;
}

interface Pending {
  tree: unknown;
  json: unknown;
  /** Absolute path of this node, in segments. */
  at: string[];
}

const shown = (key: string) => JSON.stringify(key.slice(0, 40));

/**
 * Walks the `values` tree beside the JSON it annotates: every node must be an annotation
 * `[type]` / `[type, children]` or an object of children whose paths are prefix-free (as
 * superjson writes them: one annotation per position, so none is applied through another),
 * every path must lead to a value present in the JSON, and every revival must be cheap.
 * Iterative: no input can deepen the stack. Returns the paths annotated as Map or Set.
 */
function checkValues(values: unknown, json: unknown): PathTrie {
  const containers = createTrie();
  const stack: Pending[] = [{ tree: values, json, at: [] }];
  let nodes = 0;
  while (stack.length > 0) {
    const { tree, json: value, at } = stack.pop()!;
    if (++nodes > WIRE_META_LIMITS.maxAnnotations)
      throw wireMetaError(`more than ${WIRE_META_LIMITS.maxAnnotations} annotations`);
    const where = at.join('.');
    let children: unknown = tree;
    if (Array.isArray(tree)) {
      if (tree.length < 1 || tree.length > 2) throw wireMetaError(`malformed node at "${where}"`);
      checkAnnotation(tree[0], value, where);
      if (tree[0] === 'map' || tree[0] === 'set') addPrefixFree(containers, at);
      children = tree[1];
      if (children === undefined) continue;
    }
    if (!isRecord(children)) throw wireMetaError(`malformed node at "${where}"`);
    const siblings = createTrie();
    for (const key of Object.keys(children)) {
      const room = WIRE_META_LIMITS.maxPathDepth - at.length;
      const segments = pathSegments(key, room);
      if (segments === null) throw wireMetaError(`malformed path ${shown(key)}`);
      if (segments.length > room)
        throw wireMetaError(`paths deeper than ${WIRE_META_LIMITS.maxPathDepth} segments`);
      if (!addPrefixFree(siblings, segments))
        throw wireMetaError(`overlapping paths at ${shown(key)}`);
      let target = value;
      for (const segment of segments) {
        if (FORBIDDEN_KEYS.has(segment)) throw wireMetaError(`forbidden key ${shown(segment)}`);
        target = child(target, segment);
        if (target === undefined) throw wireMetaError(`path ${shown(key)} not in the value`);
      }
      stack.push({ tree: children[key], json: target, at: [...at, ...segments] });
    }
  }
  return containers;
}

/** Checks `referentialEqualities`: bounded, and never walking a Map or Set entry by entry. */
function checkReferences(refs: unknown, containers: PathTrie): void {
  // The array form aliases the root itself: only a value that contains itself needs it.
  if (!isRecord(refs)) throw wireMetaError('referentialEqualities must be an object');
  let count = 0;
  const check = (path: unknown) => {
    if (typeof path !== 'string') throw wireMetaError('malformed referentialEqualities');
    if (++count > WIRE_META_LIMITS.maxReferencePaths)
      throw wireMetaError(`more than ${WIRE_META_LIMITS.maxReferencePaths} reference paths`);
    const segments = pathSegments(path, WIRE_META_LIMITS.maxPathDepth);
    if (segments === null || segments.length > WIRE_META_LIMITS.maxPathDepth)
      throw wireMetaError(`malformed reference path ${shown(path)}`);
    if (segments.some((s) => FORBIDDEN_KEYS.has(s)))
      throw wireMetaError(`forbidden key in reference path ${shown(path)}`);
    if (passesThrough(containers, segments))
      throw wireMetaError('reference paths into a Map or Set are not accepted');
  };
  for (const [representative, identical] of Object.entries(refs)) {
    check(representative);
    if (!Array.isArray(identical)) throw wireMetaError('malformed referentialEqualities');
    for (const path of identical) check(path);
  }
}

/**
 * Checks a superjson payload's `meta` against its `json` before superjson revives it, in time
 * linear in the payload; throws AppError BAD_REQUEST naming the problem. Only superjson's
 * current format (`v: 1`) is accepted.
 */
export function inspectWireMeta(json: unknown, meta: unknown): WireMetaReport {
  if (!isRecord(meta)) throw wireMetaError('meta must be an object');
  for (const key of Object.keys(meta)) {
    if (key !== 'values' && key !== 'referentialEqualities' && key !== 'v')
      throw wireMetaError(`unknown meta field "${key.slice(0, 40)}"`);
  }
  if (meta['v'] !== 1) throw wireMetaError('only version 1 annotations are accepted');
  const containers =
    meta['values'] === undefined ? createTrie() : checkValues(meta['values'], json);
  const refs = meta['referentialEqualities'];
  if (refs !== undefined) checkReferences(refs, containers);
  return { hasReferences: refs !== undefined };
}

/**
 * Throws when `value` contains itself. Aliases are fine (a DAG); a cycle is not something a
 * JSON wire value can mean, and code that walks inputs recursively would never finish.
 */
export function assertAcyclic(value: unknown): void {
  const done = new Set<object>();
  const onPath = new Set<object>();
  const stack: { node: object; children: unknown[] }[] = [];
  const enter = (v: unknown) => {
    if (typeof v !== 'object' || v === null || done.has(v)) return;
    if (onPath.has(v)) throw wireMetaError('the references make the value contain itself');
    onPath.add(v);
    stack.push({ node: v, children: childrenOf(v) });
  };
  enter(value);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.children.length === 0) {
      stack.pop();
      onPath.delete(top.node);
      done.add(top.node);
    } else {
      enter(top.children.pop());
    }
  }
}

function childrenOf(node: object): unknown[] {
  if (node instanceof Map) return [...node.keys(), ...node.values()];
  if (node instanceof Set || Array.isArray(node)) return [...(node as Iterable<unknown>)];
  return Object.values(node);
}
