import type { StreamEvent, ThreadId, UserId } from '@tracewire/shared';
import { expect, test } from 'vitest';
import { openTestStorage } from '../storage/sqlite/__tests__/testStorage.js';
import { streamThread, type StreamItem } from './delivery.js';
import { deltaDrafts } from './eventLog.contract.js';
import type { DeliverySink, EventWriter } from './flowControl.js';

/** A sink whose unsent byte count the test sets, writing through `writer` (when set). */
function testSink(): DeliverySink & {
  queued: number;
  closedWith: number | null;
  writer: EventWriter | null;
} {
  return {
    queued: 0,
    closedWith: null,
    writer: null,
    bufferedAmount() {
      return this.queued;
    },
    close(code) {
      this.closedWith = code;
    },
    write(id, event, json) {
      if (!this.writer) throw new Error('no writer yet');
      this.writer(id, event, json);
    },
  };
}

const PENDING = Symbol('pending');
/** The settled value of `p`, or PENDING when it has not settled after the current turn. */
async function peek<T>(p: Promise<T>): Promise<T | typeof PENDING> {
  return Promise.race([p, new Promise<typeof PENDING>((r) => setImmediate(() => r(PENDING)))]);
}

const seqOf = (e: StreamEvent) => ('seq' in e ? e.seq : -1);

test('with a sink that writes, live events in order are written by the listener while the generator waits, with their JSON; a full connection, a failed write and the end go through the generator', async () => {
  await using storage = await openTestStorage();
  const thread = await storage.store.createThread({
    agent: 'demo',
    userId: 'u1' as UserId,
    title: 't',
  });
  const threadId: ThreadId = thread.id;
  const sink = testSink();
  const ac = new AbortController();
  const stream = streamThread({
    events: storage.events,
    threadId,
    signal: ac.signal,
    flow: { sink, highWaterBytes: 1_000, slowConsumerTimeoutMs: 5_000 },
  });
  const first = await stream.next();
  expect((first.value as StreamItem).event.type).toBe('stream_position');

  const written: string[] = [];
  const texts: (string | undefined)[] = [];
  sink.writer = (id, e, json) => {
    written.push(`${id}/${seqOf(e)}`);
    texts.push(json);
  };
  let pending = stream.next();
  expect(await peek(pending)).toBe(PENDING);

  // Parked: appends are written from the listener, in order, and the generator stays parked.
  const appended = await storage.events.append(threadId, deltaDrafts({ threadId, n: 5 }));
  const epoch = appended[0]!.epoch;
  expect(written).toEqual([1, 2, 3, 4, 5].map((s) => `${epoch}:${s}/${s}`));
  // Each event's JSON comes with it, as the log encoded it: nothing encodes it again.
  expect(texts).toEqual(appended.map((e) => JSON.stringify(e)));
  expect(await peek(pending)).toBe(PENDING);

  // Above the high-water mark nothing is written directly: the generator waits for the
  // connection to drain, then yields the events itself.
  sink.queued = 5_000;
  await storage.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
  expect(written).toHaveLength(5);
  sink.queued = 0;
  const six = await pending;
  expect((six.value as StreamItem).id).toBe(`${epoch}:6`);
  expect((six.value as StreamItem).json).toBe(JSON.stringify((six.value as StreamItem).event));
  expect(((await stream.next()).value as StreamItem).id).toBe(`${epoch}:7`);

  // Parked again: direct writes resume where the generator left off.
  pending = stream.next();
  expect(await peek(pending)).toBe(PENDING);
  await storage.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
  expect(written.at(-1)).toBe(`${epoch}:8/8`);

  // A writer that throws leaves the event to the generator (whose consumer reports it).
  sink.writer = () => {
    throw new Error('socket gone');
  };
  await storage.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
  expect(((await pending).value as StreamItem).id).toBe(`${epoch}:9`);

  // After the subscriber stops, nothing more is written, and the stream ends.
  sink.writer = (id, e) => written.push(`${id}/${seqOf(e)}`);
  pending = stream.next();
  expect(await peek(pending)).toBe(PENDING);
  ac.abort();
  await storage.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
  expect(written.at(-1)).toBe(`${epoch}:8/8`);
  expect(await pending).toEqual({ done: true, value: undefined });
  expect(sink.closedWith).toBeNull();
});

test('events that arrive while the generator is not waiting are yielded by it, in order, before direct writes take over again', async () => {
  await using storage = await openTestStorage();
  const thread = await storage.store.createThread({
    agent: 'demo',
    userId: 'u1' as UserId,
    title: 't',
  });
  const threadId: ThreadId = thread.id;
  const sink = testSink();
  const ac = new AbortController();
  const stream = streamThread({
    events: storage.events,
    threadId,
    signal: ac.signal,
    flow: { sink, highWaterBytes: 1_000, slowConsumerTimeoutMs: 5_000 },
  });
  await stream.next(); // stream_position at 0
  const seen: number[] = [];
  sink.writer = (_id, e) => seen.push(seqOf(e));

  // Events 1–3 are appended while the generator is not parked (it is between pulls), so they
  // queue for it; then the consumer pulls and writes what the generator yields, as the
  // thread subscription's push loop does, while later appends are written directly.
  await storage.events.append(threadId, deltaDrafts({ threadId, n: 3 }));
  expect(seen).toEqual([]);
  for (let i = 0; i < 3; i++) {
    const r = await stream.next();
    seen.push(seqOf((r.value as StreamItem).event));
  }
  const pending = stream.next();
  expect(await peek(pending)).toBe(PENDING);
  await storage.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
  expect(seen).toEqual([1, 2, 3, 4, 5]);
  ac.abort();
  expect((await pending).done).toBe(true);
});
