import { freezePlainJson, type AgentEvent } from '@tracewire/shared';
import { decodeEvent, prepareDraft } from '../../storage/sqlite/eventCodec.js';
import type { AgentEventDraft } from '../eventLog.js';

/** A draft checked and encoded before it takes a position: what the append script stores. */
export interface EncodedDraft {
  draft: AgentEventDraft;
  /** The event's JSON without `seq` and `epoch` (the script appends them, as JSON.stringify would). */
  json: string;
  /** superjson annotations; '' for a plain event (the common case). */
  meta: string;
  terminal: boolean;
}

/**
 * Checks a draft (same rules as the embedded log) and encodes it. A draft that carries `seq`
 * or `epoch` of its own loses them, so the stored JSON is exactly the event's wire JSON:
 * the draft's keys in order, then `seq`, then `epoch`.
 */
export function encodeDraft(input: AgentEventDraft, threadId: string): EncodedDraft {
  let draft = input;
  if ('seq' in draft || 'epoch' in draft) {
    const {
      seq: _s,
      epoch: _e,
      ...rest
    } = draft as AgentEventDraft & { seq?: unknown; epoch?: unknown };
    draft = rest;
  }
  const prepared = prepareDraft(draft, threadId);
  const json = JSON.stringify(prepared.serialized?.json ?? draft);
  return {
    draft,
    json,
    meta: prepared.serialized?.meta ?? '',
    terminal: draft.type === 'agent_completed' || draft.type === 'agent_error',
  };
}

/** The JSON of `json` (an event without position) with its position: what the script stored. */
export const positionedJson = (json: string, seq: number, epoch: string): string =>
  `${json.slice(0, -1)},"seq":${seq},"epoch":"${epoch}"}`;

/** The stored event for a committed draft (a plain one carries its wire JSON). */
export function committedEvent(encoded: EncodedDraft, seq: number, epoch: string): AgentEvent {
  const event: AgentEvent = Object.assign({}, encoded.draft, { seq, epoch });
  if (encoded.meta === '') return freezePlainJson(event, positionedJson(encoded.json, seq, epoch));
  return Object.freeze(event);
}

/** An event from its stored JSON and annotations. */
export const storedEvent = (json: string, meta: string): AgentEvent =>
  decodeEvent({ data: json, data_meta: meta === '' ? null : meta });

/** A stream entry (`XRANGE` reply) as an event. */
export function eventOfEntry(entry: [id: string, fields: string[]]): AgentEvent {
  const fields = entry[1];
  let json = '';
  let meta = '';
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 'd') json = fields[i + 1]!;
    else if (fields[i] === 'm') meta = fields[i + 1]!;
  }
  return storedEvent(json, meta);
}

/** A published batch: its epoch, first seq and event count, the events still undecoded. */
export interface BatchHeader {
  epoch: string;
  firstSeq: number;
  count: number;
  /** The message; its events start at `body`. */
  message: string;
  body: number;
}

/**
 * Reads the header of a published batch (`epoch\nfirstSeq\ncount\n`, then each event's JSON
 * and annotations on a line each; JSON text never holds a raw newline) without touching the
 * events: an instance drops its own batches, which it already delivered, at this cost.
 * Null for a malformed message.
 */
export function parseBatch(message: string): BatchHeader | null {
  const a = message.indexOf('\n');
  const b = message.indexOf('\n', a + 1);
  const c = message.indexOf('\n', b + 1);
  if (a < 1 || b < 0 || c < 0) return null;
  const firstSeq = Number(message.slice(a + 1, b));
  const count = Number(message.slice(b + 1, c));
  if (!Number.isSafeInteger(firstSeq) || !Number.isSafeInteger(count) || count < 1) return null;
  return { epoch: message.slice(0, a), firstSeq, count, message, body: c + 1 };
}

/** The events of a published batch from `fromSeq` on (earlier ones are not decoded). */
export function batchEvents(batch: BatchHeader, fromSeq: number): AgentEvent[] {
  const lines = batch.message.slice(batch.body).split('\n');
  const out: AgentEvent[] = [];
  for (let k = Math.max(0, fromSeq - batch.firstSeq); k < batch.count; k++)
    out.push(storedEvent(lines[2 * k] ?? '', lines[2 * k + 1] ?? ''));
  return out;
}
