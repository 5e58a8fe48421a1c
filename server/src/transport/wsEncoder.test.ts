import { freezePlainJson, transformer } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { createWireEncoder, type EventFrameBuilder } from './wsEncoder.js';

/** A stored event, as the log keeps it: frozen and marked plain JSON. */
const event = freezePlainJson({
  type: 'message_delta',
  threadId: 'thr_1',
  runId: 'run_1',
  seq: 7,
  epoch: 'e1',
  ts: 1_795_000_000_000,
  delta: 'hé "quoted" \n',
  _meta: { traceparent: '00-abc-def-01' },
});

/** The frame tRPC's WS adapter hands to the encoder for a tracked event. */
const frame = (id: unknown, ev: object, jsonrpc?: string) => {
  const result: Record<string, unknown> = { type: 'data', data: ev };
  result['id'] = 'e1:7';
  result['data'] = { json: { id: 'e1:7', data: ev } };
  return { id, jsonrpc, result };
};

describe('wire encoder', () => {
  const encoder = createWireEncoder();

  test('writes exactly what JSON.stringify writes, for event frames and everything else', () => {
    const messages: unknown[] = [
      frame(1, event),
      frame('op-2', event, '2.0'),
      frame(null, event),
      frame(3, { ...event }), // not marked: the generic path
      frame(4, Object.freeze({ at: new Date(0) })),
      { id: 5, result: { type: 'started' } },
      { id: 6, error: { message: 'nope', code: -32600, data: { appCode: 'BAD_REQUEST' } } },
      { id: null, method: 'reconnect' },
      { ...frame(7, event), extra: true },
      { id: 8, result: { type: 'data', data: { json: { id: 'other', data: event } }, id: 'e1:7' } },
    ];
    for (const m of messages) expect(encoder.encode(m)).toBe(JSON.stringify(m));
  });

  test('an event reaching many subscribers is written once and reused', () => {
    const counting = createWireEncoder();
    let calls = 0;
    // As the log stores it: marked plain (its toJSON counts the encodings).
    const ev = freezePlainJson({
      type: 'agent_thinking',
      text: 'x',
      toJSON() {
        calls++;
        return { type: 'agent_thinking', text: 'x' };
      },
    });
    const a = counting.encode(frame(1, ev));
    const b = counting.encode(frame(2, ev));
    expect(calls).toBe(1);
    expect(JSON.parse(a)).toEqual(JSON.parse(JSON.stringify(frame(1, ev))));
    expect(JSON.parse(b)).toEqual(JSON.parse(JSON.stringify(frame(2, ev))));
  });

  test('a followed subscription gets, once, a builder of its frames equal to what the adapter and encode would write', () => {
    const enc = createWireEncoder();
    const builders: EventFrameBuilder[] = [];
    const marker = { type: 'stream_position', threadId: 'thr_1', epoch: 'e1', headSeq: 0, ts: 1 };
    enc.follow(marker, (b) => builders.push(b));
    // Other frames (another op's event, control frames) do not trigger it.
    enc.encode(frame(1, event));
    enc.encode({ id: 9, jsonrpc: '2.0', result: { type: 'started' } });
    expect(builders).toHaveLength(0);
    const first = frame(9, marker, '2.0');
    expect(enc.encode(first)).toBe(JSON.stringify(first));
    enc.encode(frame(9, marker, '2.0'));
    expect(builders).toHaveLength(1);

    const build = builders[0]!;
    const adapterFrame = (ev: object, trackedId: string) => ({
      id: 9,
      jsonrpc: '2.0',
      result: {
        type: 'data',
        data: transformer.serialize({ id: trackedId, data: ev }),
        id: trackedId,
      },
    });
    const stored = freezePlainJson({ ...event });
    const annotated = Object.freeze({ type: 'x', at: new Date(5), n: undefined });
    for (const ev of [event, stored, { ...event }, annotated]) {
      expect(build('e1:7', ev)).toBe(JSON.stringify(adapterFrame(ev, 'e1:7')));
    }
    // Without jsonrpc, and with a string id, as a plain tRPC client may send.
    const other = createWireEncoder();
    const marker2 = {};
    let build2: EventFrameBuilder | undefined;
    other.follow(marker2, (b) => (build2 = b));
    other.encode({
      id: 'op-x',
      result: { type: 'data', data: { json: { id: 'e1:1', data: marker2 } }, id: 'e1:1' },
    });
    expect(build2!('e1:7', stored)).toBe(
      JSON.stringify({
        id: 'op-x',
        result: { type: 'data', data: { json: { id: 'e1:7', data: stored } }, id: 'e1:7' },
      }),
    );
  });

  test('decodes JSON text and refuses binary frames', () => {
    expect(encoder.decode('{"id":1,"method":"query"}')).toEqual({ id: 1, method: 'query' });
    expect(() => encoder.decode(new Uint8Array([1]))).toThrow(/binary/);
  });
});
