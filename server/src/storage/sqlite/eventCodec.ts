import {
  AppError,
  isPlainJson,
  freezePlainJson,
  transformer,
  type AgentEvent,
} from '@tracewire/shared';
import type { AgentEventDraft } from '../../events/eventLog.js';
import type { EventsTable } from './schema.js';

/** An events row as the read path needs it. */
export type EventRow = Pick<EventsTable, 'data' | 'data_meta'>;

/**
 * A draft checked and, when plain JSON is not exact, already serialized: everything that can
 * fail happens before the event takes a position in its stream.
 */
export interface PreparedDraft {
  draft: AgentEventDraft;
  /** superjson's form of the draft; null when the draft is plain JSON (the common case). */
  serialized: { json: Record<string, unknown>; meta: string | null } | null;
}

/** Checks the fields the columns hold and prepares the draft's encoding. */
export function prepareDraft(draft: AgentEventDraft, threadId: string): PreparedDraft {
  if (draft.threadId !== threadId)
    throw new AppError('BAD_REQUEST', 'event threadId does not match the stream');
  if (typeof draft.type !== 'string' || typeof draft.runId !== 'string')
    throw new AppError('BAD_REQUEST', 'event type and runId must be strings');
  if (!Number.isSafeInteger(draft.ts))
    throw new AppError('BAD_REQUEST', 'event ts must be an integer (ms since the epoch)');
  if (isPlainJson(draft)) return { draft, serialized: null };
  const { json, meta } = transformer.serialize(draft);
  return {
    draft,
    serialized: {
      json: json as Record<string, unknown>,
      meta: meta === undefined ? null : JSON.stringify(meta),
    },
  };
}

/**
 * The stored event and its `data`/`data_meta` columns: the whole event as JSON, which for a
 * plain event is exactly its wire JSON (kept with the event, so it is never encoded again),
 * plus superjson's annotations (Dates, undefined, Maps, …) when JSON alone is not exact.
 */
export function encodeEvent(
  prepared: PreparedDraft,
  seq: number,
  epoch: string,
): { event: AgentEvent; data: string; meta: string | null } {
  // Object.assign, not `{ ...draft, seq, epoch }`: on Node 20 properties added after a spread
  // cost ~0.7 µs each, per event.
  const position = { seq, epoch };
  const event = Object.assign({}, prepared.draft, position);
  if (prepared.serialized === null) {
    const data = JSON.stringify(event);
    return { event: freezePlainJson(event, data), data, meta: null };
  }
  // Same keys in the same order as `event` (seq and epoch are plain), so the annotations'
  // paths still hold.
  const data = JSON.stringify(Object.assign({}, prepared.serialized.json, position));
  return { event: Object.freeze(event), data, meta: prepared.serialized.meta };
}

/** Rebuilds the event exactly as it was appended (a plain one with its wire JSON). */
export function decodeEvent(row: EventRow): AgentEvent {
  const json: unknown = JSON.parse(row.data);
  if (row.data_meta === null) return freezePlainJson(json as AgentEvent, row.data);
  return Object.freeze(
    transformer.deserialize<AgentEvent>({ json: json, meta: JSON.parse(row.data_meta) }),
  );
}
