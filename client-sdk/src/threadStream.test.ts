import type { AgentEvent, RunId, StreamEvent, ThreadId } from '@tracewire/shared';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { openThreadStream, type FrameObserver } from './threadStream.js';
import type { ThreadEvent } from './types.js';

const threadId = 'thr_0000000000aaaaaaaaaaaaaaaa' as ThreadId;
const runId = 'run_0000000000aaaaaaaaaaaaaaaa' as RunId;
const delta = (seq: number): AgentEvent => ({
  type: 'message_delta',
  threadId,
  runId,
  epoch: 'e1',
  seq,
  ts: 1,
  delta: `${seq}`,
});

/**
 * An in-memory event log with the server's resume rule (replay after `lastEventId`), whose
 * FIRST subscription loses some events and repeats others: the faults the SDK must absorb.
 * (The real server never produces a gap on demand, so this is the only way to force one.)
 */
function faultyLog(total: number, opts: { skip: number[]; repeat: number[] }) {
  const log = Array.from({ length: total }, (_, i) => delta(i + 1));
  const inputs: { lastEventId?: string }[] = [];
  const subscribe = (
    input: { threadId: string; lastEventId?: string },
    observer: FrameObserver,
  ) => {
    inputs.push(input.lastEventId ? { lastEventId: input.lastEventId } : {});
    const first = inputs.length === 1;
    let stopped = false;
    queueMicrotask(() => {
      const frames: StreamEvent[] = [];
      const after = input.lastEventId ? Number(input.lastEventId.split(':')[1]) : 0;
      if (!input.lastEventId)
        frames.push({ type: 'stream_position', threadId, epoch: 'e1', headSeq: 0, ts: 1 });
      for (const e of log.filter((x) => x.seq > after)) {
        if (first && opts.skip.includes(e.seq)) continue;
        frames.push(e);
        if (first && opts.repeat.includes(e.seq)) frames.push(e);
      }
      for (const data of frames) {
        if (stopped) return;
        observer.onData({
          id: data.type === 'stream_position' ? 'e1:0' : `e1:${'seq' in data ? data.seq : 0}`,
          data,
        });
      }
    });
    return { unsubscribe: () => (stopped = true) };
  };
  return { subscribe, inputs };
}

describe('openThreadStream', () => {
  test('repairs a gap by resubscribing from the last good event and drops repeats', async () => {
    const source = faultyLog(20, { skip: [8], repeat: [3, 4] });
    const ac = new AbortController();
    const stream = openThreadStream(
      { subscribe: source.subscribe, backoff: () => 0, clientSignal: new AbortController().signal },
      threadId,
      { signal: ac.signal },
    );
    expect(await stream.ready).toBe(true);
    const seen: ThreadEvent[] = [];
    for await (const e of stream) {
      seen.push(e);
      if (seen.length === 20) ac.abort();
    }
    expect(seen.map((e) => ('seq' in e ? e.seq : 0))).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    // The second subscription resumed right after seq 7, the last event before the gap.
    expect(source.inputs).toEqual([{}, { lastEventId: 'e1:7' }]);
    expect(stream.stats).toMatchObject({
      duplicatesDropped: 2,
      gapsDetected: 1,
      gapsRepaired: 1,
      resubscribes: 1,
    });
    expect(stream.lastEventId).toBe('e1:20');
  });

  test('ends cleanly when the client closes', async () => {
    const source = faultyLog(3, { skip: [], repeat: [] });
    const client = new AbortController();
    const stream = openThreadStream(
      { subscribe: source.subscribe, backoff: () => 0, clientSignal: client.signal },
      threadId,
    );
    const seen: number[] = [];
    for await (const e of stream) {
      seen.push('seq' in e ? e.seq : 0);
      if (seen.length === 3) client.abort();
    }
    expect(seen).toEqual([1, 2, 3]);
  });

  test('keeps no event the app has taken, while the stream stays open', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let observer: FrameObserver | null = null;
    const stream = openThreadStream(
      {
        subscribe: (_input, o) => ((observer = o), { unsubscribe: () => undefined }),
        backoff: () => 0,
        clientSignal: new AbortController().signal,
      },
      threadId,
    );
    const taken: WeakRef<object>[] = [];
    // In a function of its own: a suspended async frame may keep its last value alive.
    const take = async () => taken.push(new WeakRef((await stream.next()).value as object));
    // Fewer events than the queue's compaction threshold (1,024), taken one by one as they
    // arrive (the app keeps up) and in one go after they have queued (the app lagged).
    for (let seq = 1; seq <= 600; seq++) {
      observer!.onData({ id: `e1:${seq}`, data: delta(seq) });
      if (seq <= 300) await take();
    }
    for (let seq = 301; seq <= 600; seq++) await take();
    // WeakRefs hold their target until the current job ends: collect on a later macrotask.
    await nextMacrotask();
    gc();
    expect(
      taken.map((r) => (r.deref() as { seq?: number } | undefined)?.seq).filter(Boolean),
    ).toEqual([]);
    expect(stream.stats).toMatchObject({ delivered: 600 });
    stream.close();
  });
});
