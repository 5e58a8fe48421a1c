/**
 * The WebSocket wire encoder: tRPC's JSON text frames, with each streamed event's JSON
 * written once however many subscribers it reaches, and the frames of a followed
 * subscription built without the adapter (see {@link WireEncoder.follow}).
 * @module
 */
import { plainJsonText, transformer } from '@tracewire/shared';

/** Builds the data frame of one tracked event of a followed subscription. */
export type EventFrameBuilder = (trackedId: string, event: object) => string;

/** tRPC's encoder contract (`experimental_encoder` of the WS adapter), plus following. */
export interface WireEncoder {
  encode(data: unknown): string;
  decode(data: string | ArrayBuffer | Uint8Array): unknown;
  /**
   * Calls `onWire` once, when the data frame whose event is `marker` (an object no other
   * frame carries) is encoded, with a builder of that subscription's further data frames: the
   * same text the adapter would write for them, with the subscription's wire id, which only
   * the code serving the subscription knows (`wsSubscriptions.ts`). `onWire` runs before that
   * frame is sent, so it must not send anything itself. A marker never written is dropped with
   * it (held weakly).
   */
  follow(marker: object, onWire: (build: EventFrameBuilder) => void): void;
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
 * `{ id, jsonrpc?, result: { type: 'data', data: { json: { id, data: EVENT } }, id } }`.
 * Anything else is left to `JSON.stringify`.
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
  if (!isRecord(event)) return null;
  return { id, jsonrpc, trackedId: result['id'], event };
}

/** The frame's text around EVENT: `head` names the op (`{"id":…,"jsonrpc":…,`). */
const frameText = (head: string, trackedId: string, eventJson: string) =>
  `${head}"result":{"type":"data","data":{"json":` +
  `{"id":${trackedId},"data":${eventJson}}},"id":${trackedId}}}`;

const headText = (opId: unknown, jsonrpc: unknown) =>
  `{"id":${JSON.stringify(opId)},` +
  (jsonrpc === undefined ? '' : `"jsonrpc":${JSON.stringify(jsonrpc)},`);

/**
 * Creates the encoder. In a tracked event frame, EVENT is the same object for every
 * subscriber of the thread, and the log marks it as plain JSON (see `freezePlainJson`), so
 * its JSON is written once and kept with it. Anything else, including events that needed
 * superjson annotations, is `JSON.stringify`'d. The text is what `JSON.stringify` would
 * produce, so every tRPC client reads it as usual.
 */
export function createWireEncoder(): WireEncoder {
  const followers = new WeakMap<object, (build: EventFrameBuilder) => void>();
  /** The builder for one subscription: what the adapter plus `encode` would write. */
  const builderFor = (opId: unknown, jsonrpc: unknown): EventFrameBuilder => {
    const head = headText(opId, jsonrpc);
    return (trackedId, event) => {
      const json = plainJsonText(event);
      if (json !== undefined) return frameText(head, JSON.stringify(trackedId), json);
      const data = transformer.serialize({ id: trackedId, data: event });
      return JSON.stringify({ id: opId, jsonrpc, result: { type: 'data', data, id: trackedId } });
    };
  };
  return {
    encode(msg) {
      const f = eventFrame(msg);
      if (!f) return JSON.stringify(msg);
      const onWire = followers.get(f.event);
      if (onWire) {
        followers.delete(f.event);
        onWire(builderFor(f.id, f.jsonrpc));
      }
      const json = plainJsonText(f.event);
      if (json === undefined) return JSON.stringify(msg);
      return frameText(headText(f.id, f.jsonrpc), JSON.stringify(f.trackedId), json);
    },
    follow(marker, onWire) {
      followers.set(marker, onWire);
    },
    decode(data) {
      if (typeof data !== 'string') throw new Error('binary frames are not supported');
      return JSON.parse(data) as unknown;
    },
  };
}
