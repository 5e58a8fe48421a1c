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

/**
 * Creates the encoder. A tracked event frame is
 * `{"id":…,"result":{"type":"data","id":"<epoch:seq>","data":{"json":{"id":…,"data":EVENT}}}}`
 * (tRPC's envelope and the superjson shape of a plain value); EVENT is the same object for
 * every subscriber of the thread, so its JSON is kept (weakly, per object) and reused.
 * Anything else, including events that needed superjson annotations, is `JSON.stringify`'d.
 * The text is what `JSON.stringify` would produce, so every tRPC client reads it as usual.
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
      if (!isRecord(msg) || !isRecord(msg['result'])) return JSON.stringify(msg);
      const result = msg['result'];
      const data = result['data'];
      if (result['type'] !== 'data' || typeof result['id'] !== 'string' || !isRecord(data))
        return JSON.stringify(msg);
      const json = data['json'];
      if (!hasExactly(data, ['json']) || !isRecord(json) || !hasExactly(json, ['id', 'data']))
        return JSON.stringify(msg);
      const event = json['data'];
      if (!isRecord(event) || !Object.isFrozen(event) || typeof json['id'] !== 'string')
        return JSON.stringify(msg);
      const id = msg['id'];
      const validId = typeof id === 'string' || id === null || Number.isFinite(id);
      const envelope =
        hasExactly(msg, ['id', 'jsonrpc', 'result']) || hasExactly(msg, ['id', 'result']);
      if (!validId || !envelope || !hasExactly(result, ['type', 'data', 'id']))
        return JSON.stringify(msg);
      const jsonrpc =
        msg['jsonrpc'] === undefined ? '' : `"jsonrpc":${JSON.stringify(msg['jsonrpc'])},`;
      return (
        `{"id":${JSON.stringify(id)},${jsonrpc}"result":{"type":"data","data":{"json":` +
        `{"id":${JSON.stringify(json['id'])},"data":${jsonOf(event)}}},"id":${JSON.stringify(result['id'])}}}`
      );
    },
    decode(data) {
      if (typeof data !== 'string') throw new Error('binary frames are not supported');
      return JSON.parse(data) as unknown;
    },
  };
}
