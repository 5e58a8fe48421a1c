import superjson from 'superjson';

/** The wire form superjson produces: JSON plus annotations when JSON alone is not exact. */
export interface SerializedValue {
  json: unknown;
  meta?: unknown;
}

/** Objects already known to be plain JSON (see {@link markPlainJson}). */
const knownPlain = new WeakSet<object>();

/**
 * Records that a frozen object is plain JSON, so {@link isPlainJson} answers without walking
 * it again: an event is checked once when it is stored, not once per subscriber it reaches.
 * Only frozen objects are recorded (a later change could otherwise make the answer wrong);
 * the freeze is shallow, so the caller must own the nested values too (the event log does).
 */
export function markPlainJson<T extends object>(value: T): T {
  if (Object.isFrozen(value)) knownPlain.add(value);
  return value;
}

/** True when `JSON.parse(JSON.stringify(v))` gives back exactly `v`. Walks without allocating. */
export function isPlainJson(v: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (typeof v === 'object' && v !== null && knownPlain.has(v)) return true;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0);
    case 'object': {
      if (v === null) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          if (!(i in v) || !isPlainJson(v[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in v) {
        if (key === '__proto__' || !isPlainJson((v as Record<string, unknown>)[key], depth + 1))
          return false;
      }
      return true;
    }
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      return false;
  }
}

/**
 * The wire transformer: superjson's format exactly, with a fast path. Most values (every
 * streamed delta, every thinking step) are plain JSON, for which superjson's output is
 * `{ json: value }`; checking that costs a walk, where superjson's walker allocates a path per
 * node. Anything else (Dates, undefined, Maps, …) goes through superjson. Every link and the
 * server use this object, so both ends agree on the format.
 */
export const transformer = {
  serialize(value: unknown): SerializedValue {
    return isPlainJson(value) ? { json: value } : superjson.serialize(value);
  },
  deserialize<T = unknown>(payload: SerializedValue): T {
    // Without annotations there is nothing to revive: the parsed JSON is the value (superjson
    // would deep-copy it first).
    if (payload.meta === undefined || payload.meta === null) return payload.json as T;
    return superjson.deserialize<T>(payload as Parameters<typeof superjson.deserialize>[0]);
  },
};
