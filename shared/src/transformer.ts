import superjson from 'superjson';
import { AppError } from './errors.js';
import { assertAcyclic, inspectWireMeta, wireMetaError } from './wireMeta.js';

/** The wire form superjson produces: JSON plus annotations when JSON alone is not exact. */
export interface SerializedValue {
  json: unknown;
  meta?: unknown;
}

/**
 * A plain-JSON value's own memo, kept on the value under a symbol: non-enumerable, so JSON,
 * spread and `for…in` never see it. A slot on the object rather than a WeakMap/WeakSet entry:
 * a weak entry per streamed event made every garbage collection walk tens of thousands of them.
 */
const PLAIN = Symbol('tracewire.plainJson');

interface PlainSlot {
  /** `JSON.stringify(value)`, once something asked for it. */
  json: string | undefined;
}

/**
 * Freezes `value` (shallowly) and records that it is plain JSON, so {@link isPlainJson}
 * answers without walking it again and {@link plainJsonText} writes it once: an event is
 * checked and encoded once, not once per subscriber it reaches. The caller must know it is
 * plain JSON and own the nested values too (the event log does: it built them from JSON).
 * `json`, when the caller has it, must be exactly `JSON.stringify(value)`.
 */
export function freezePlainJson<T extends object>(value: T, json?: string): T {
  if (!Object.isFrozen(value)) {
    const slot: PlainSlot = { json };
    Object.defineProperty(value, PLAIN, { value: slot });
  }
  return Object.freeze(value);
}

const slotOf = (v: object): PlainSlot | undefined => (v as { [PLAIN]?: PlainSlot })[PLAIN];

/**
 * `JSON.stringify(value)` for a value marked by {@link freezePlainJson}, written once and kept
 * with it; undefined for any other value.
 */
export function plainJsonText(value: object): string | undefined {
  const slot = slotOf(value);
  if (!slot) return undefined;
  return (slot.json ??= JSON.stringify(value));
}

/** True when `JSON.parse(JSON.stringify(v))` gives back exactly `v`. Walks without allocating. */
export function isPlainJson(v: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (typeof v === 'object' && v !== null && slotOf(v) !== undefined) return true;
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
 * Revives a payload received from a peer, defensively: the payload must be an envelope
 * (`{ json, meta? }`), its annotations are checked against {@link inspectWireMeta}'s bounds
 * before superjson sees them, and whatever superjson still throws becomes one BAD_REQUEST
 * (never a runtime message, never a stack overflow). Revives in place: the payload must be
 * freshly parsed JSON that nothing else holds, which is what every link and adapter passes.
 */
export function decodeWire<T = unknown>(payload: unknown): T {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw wireMetaError('expected a superjson envelope {"json": …}');
  const { json, meta } = payload as SerializedValue;
  // Without annotations there is nothing to revive: the parsed JSON is the value.
  if (meta === undefined || meta === null) return json as T;
  const report = inspectWireMeta(json, meta);
  let value: T;
  try {
    value = superjson.deserialize<T>(payload as Parameters<typeof superjson.deserialize>[0], {
      inPlace: true,
    });
  } catch (err) {
    throw AppError.is(err) ? err : wireMetaError('superjson could not revive the value', err);
  }
  if (report.hasReferences) assertAcyclic(value);
  return value;
}

/**
 * The wire transformer: superjson's format exactly, with a fast path. Most values (every
 * streamed delta, every thinking step) are plain JSON, for which superjson's output is
 * `{ json: value }`; checking that costs a walk, where superjson's walker allocates a path per
 * node. Anything else (Dates, undefined, Maps, …) goes through superjson. Every link and the
 * server use this object, so both ends agree on the format, and every transport decodes
 * with {@link decodeWire}'s bounds.
 */
export const transformer = {
  serialize(value: unknown): SerializedValue {
    return isPlainJson(value) ? { json: value } : superjson.serialize(value);
  },
  deserialize<T = unknown>(payload: SerializedValue): T {
    return decodeWire<T>(payload);
  },
};
