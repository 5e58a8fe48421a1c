import {
  isPlainJson,
  freezePlainJson,
  transformer,
  type AgentEvent,
  type ThreadId,
} from '@tracewire/shared';
import type { AgentEventDraft } from '../../events/eventLog.js';
import type { EventsTable } from './schema.js';

/** The stored form of an event's type-specific fields. */
export interface EncodedEventData {
  /** Plain JSON. */
  data: string;
  /** superjson annotations (Dates, undefined, Maps, …), null when plain JSON is exact. */
  meta: string | null;
}

/** An events row as read back, with its stream's thread id. */
export type EventRow = Pick<
  EventsTable,
  'seq' | 'epoch' | 'type' | 'run_id' | 'ts' | 'data' | 'data_meta'
> & { thread_id: string };

/**
 * Encodes the fields an event has beyond the columns. Plain JSON when that is exact (the
 * common case, and fast); otherwise superjson so Dates (`agent_completed.message`) and
 * other values in tool args/results revive exactly.
 */
export function encodeEventData(rest: Record<string, unknown>): EncodedEventData {
  if (isPlainJson(rest)) return { data: JSON.stringify(rest), meta: null };
  const { json, meta } = transformer.serialize(rest);
  return { data: JSON.stringify(json), meta: meta === undefined ? null : JSON.stringify(meta) };
}

/** Splits a draft into its column fields and the rest (what {@link encodeEventData} stores). */
export function splitDraft(draft: AgentEventDraft): {
  type: string;
  threadId: string;
  runId: string;
  ts: number;
  rest: Record<string, unknown>;
} {
  const {
    type,
    threadId,
    runId,
    ts,
    seq: _seq,
    epoch: _epoch,
    ...rest
  } = draft as unknown as Record<string, unknown> & {
    type: string;
    threadId: string;
    runId: string;
    ts: number;
  };
  return { type, threadId, runId, ts, rest };
}

/** Rebuilds the event exactly as it was appended. */
export function decodeEvent(row: EventRow): AgentEvent {
  const json: unknown = JSON.parse(row.data);
  const rest =
    row.data_meta === null
      ? (json as Record<string, unknown>)
      : transformer.deserialize<Record<string, unknown>>({
          json: json,
          meta: JSON.parse(row.data_meta) as never,
        });
  const fields = {
    type: row.type,
    threadId: row.thread_id as ThreadId,
    runId: row.run_id,
    seq: row.seq,
    epoch: row.epoch,
    ts: row.ts,
    ...rest,
  } as unknown as AgentEvent;
  // Stored without annotations: plain JSON, known without another walk.
  return row.data_meta === null ? freezePlainJson(fields) : Object.freeze(fields);
}
