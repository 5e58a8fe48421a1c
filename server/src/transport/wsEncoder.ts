/**
 * The WebSocket wire encoder: tRPC's JSON text frames, with each streamed event's JSON
 * written once however many subscribers it reaches.
 * @module
 */

/** tRPC's encoder contract (`experimental_encoder` of the WS adapter). */
export interface WireEncoder {
  encode(data: unknown): string;
  decode(data: string | ArrayBuffer | Uint8Array): unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Own keys, exactly: the fast path is taken only for the shape it was written for. */
const hasExactly = (o: Record<string, unknown>, keys: readonly string[]) => {
  let n = 0;
  for (const k in o) {
    if (!keys.includes(k)) return false;
    n++;
  }
  return n === keys.length;
};

/** The parts of a tracked-event frame that vary, or null for any other message. */
interface EventFrame {
  id: unknown;
  jsonrpc: unknown;
  trackedId: string;
  event: Record<string, unknown>;
}

/**
 * Matches tRPC's data frame for a tracked, plain event exactly:
 * `{ id, jsonrpc?, result: { type: 'data', data: { json: { id, data: EVENT } }, id } }`,
 * EVENT frozen (stored by the log). Anything else is left to `JSON.stringify`.
 */
function eventFrame(msg: unknown): EventFrame | null {
  if (!isRecord(msg)) return null;
  const { id, jsonrpc, result } = msg;
  if (typeof id !== 'string' && id !== null && !Number.isFinite(id)) return null;
  if (!hasExactly(msg, ['id', 'jsonrpc', 'result']) && !hasExactly(msg, ['id', 'result']))
    return null;
  if (!isRecord(result) || result['type'] !== 'data' || typeof result['id'] !== 'string')
    return null;
  if (!hasExactly(result, ['type', 'data', 'id'])) return null;
  const data = result['data'];
  if (!isRecord(data) || !hasExactly(data, ['json'])) return null;
  const json = data['json'];
  if (!isRecord(json) || !hasExactly(json, ['id', 'data']) || json['id'] !== result['id'])
    return null;
  const event = json['data'];
  if (!isRecord(event) || !Object.isFrozen(event)) return null;
  return { id, jsonrpc, trackedId: result['id'], event };
}

/**
 * Creates the encoder. In a tracked event frame, EVENT is the same object for every
 * subscriber of the thread, so its JSON is kept (weakly, per object) and reused. Anything
 * else, including events that needed superjson annotations, is `JSON.stringify`'d. The text
 * is what `JSON.stringify` would produce, so every tRPC client reads it as usual.
 */
export function createWireEncoder(): WireEncoder {
  const eventJson = new WeakMap<object, string>();
  const jsonOf = (event: object) => {
    let text = eventJson.get(event);
    if (text === undefined) {
      text = JSON.stringify(event);
      eventJson.set(event, text);
    }
    return text;
  };
  return {
    encode(msg) {
      const f = eventFrame(msg);
      if (!f) return JSON.stringify(msg);
      const jsonrpc = f.jsonrpc === undefined ? '' : `"jsonrpc":${JSON.stringify(f.jsonrpc)},`;
      const trackedId = JSON.stringify(f.trackedId);
      return (
        `{"id":${JSON.stringify(f.id)},${jsonrpc}"result":{"type":"data","data":{"json":` +
        `{"id":${trackedId},"data":${jsonOf(f.event)}}},"id":${trackedId}}}`
      );
    },
    decode(data) {
      if (typeof data !== 'string') throw new Error('binary frames are not supported');
      return JSON.parse(data) as unknown;
    },
  };
}
