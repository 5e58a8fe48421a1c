import type { AgentEvent, RunId, StreamEvent, ThreadId } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { createStreamTracker } from './streamTracker.js';

const threadId = 'thr_0000000000aaaaaaaaaaaaaaaa' as ThreadId;
const runId = 'run_0000000000aaaaaaaaaaaaaaaa' as RunId;

const delta = (seq: number, epoch = 'e1'): AgentEvent => ({
  type: 'message_delta',
  threadId,
  runId,
  epoch,
  seq,
  ts: 1,
  delta: `d${seq}`,
});
const position = (headSeq: number, epoch = 'e1'): StreamEvent => ({
  type: 'stream_position',
  threadId,
  epoch,
  headSeq,
  ts: 1,
});
const frame = (data: StreamEvent) => ({
  id: 'seq' in data ? `${data.epoch}:${data.seq}` : undefined,
  data,
});

describe('createStreamTracker', () => {
  test('hides the stream_position marker but resumes from its position', () => {
    const t = createStreamTracker();
    expect(t.lastEventId).toBeNull();
    expect(t.step(frame(position(7)))).toEqual({ kind: 'position' });
    expect(t.lastEventId).toBe('e1:7');
    expect(t.step(frame(delta(8)))).toMatchObject({ kind: 'deliver', event: { seq: 8 } });
    expect(t.lastEventId).toBe('e1:8');
  });

  test('drops duplicates by seq within the same epoch', () => {
    const t = createStreamTracker('e1:3');
    expect(t.step(frame(delta(4))).kind).toBe('deliver');
    expect(t.step(frame(delta(4))).kind).toBe('duplicate');
    expect(t.step(frame(delta(2))).kind).toBe('duplicate');
    expect(t.step(frame(delta(5))).kind).toBe('deliver');
    expect(t.stats).toMatchObject({ received: 4, delivered: 2, duplicatesDropped: 1 + 1 });
  });

  test('reports a skipped seq as a gap to resume from the last good event, then counts the repair', () => {
    const t = createStreamTracker('e1:3');
    t.step(frame(delta(4)));
    expect(t.step(frame(delta(7)))).toEqual({
      kind: 'gap',
      expectedSeq: 5,
      receivedSeq: 7,
      resumeFrom: 'e1:4',
    });
    // The gap did not move the position: the resubscription replays 5, 6, 7.
    expect(t.lastEventId).toBe('e1:4');
    for (const seq of [5, 6, 7]) expect(t.step(frame(delta(seq))).kind).toBe('deliver');
    expect(t.stats).toMatchObject({ gapsDetected: 1, gapsRepaired: 1, delivered: 4 });
  });

  test('treats an event of another epoch without a resync as a gap (the server answers with resync)', () => {
    const t = createStreamTracker('e1:10');
    expect(t.step(frame(delta(1, 'e2')))).toMatchObject({ kind: 'gap', resumeFrom: 'e1:10' });
  });

  test('surfaces resync to the app and continues from its head in the new epoch', () => {
    const t = createStreamTracker('e1:10');
    const resync: StreamEvent = {
      type: 'resync',
      threadId,
      reason: 'epoch_changed',
      epoch: 'e2',
      firstAvailableSeq: 1,
      headSeq: 3,
      ts: 1,
    };
    expect(t.step(frame(resync))).toEqual({ kind: 'deliver', event: resync });
    expect(t.lastEventId).toBe('e2:3');
    expect(t.step(frame(delta(4, 'e2'))).kind).toBe('deliver');
    expect(t.step(frame(delta(3, 'e2'))).kind).toBe('duplicate');
    expect(t.stats.resyncs).toBe(1);
  });

  test('strips _meta from delivered events', () => {
    const t = createStreamTracker();
    const step = t.step(frame({ ...delta(1), _meta: { traceparent: '00-abc' } }));
    expect(step.kind).toBe('deliver');
    expect(step.kind === 'deliver' && '_meta' in step.event).toBe(false);
  });

  test('accepts the first event when the position is unknown, then enforces order', () => {
    const t = createStreamTracker();
    expect(t.step(frame(delta(12))).kind).toBe('deliver');
    expect(t.step(frame(delta(14))).kind).toBe('gap');
  });

  test('never moves backwards on a late stream_position marker', () => {
    const t = createStreamTracker('e1:9');
    t.step(frame(position(5)));
    expect(t.lastEventId).toBe('e1:9');
  });

  test('delivers a shuffled, duplicated feed exactly once and in order after repairs', () => {
    // Model: the server replays from the resume point after each gap (as the event log does).
    const log = Array.from({ length: 200 }, (_, i) => delta(i + 1));
    const t = createStreamTracker('e1:0');
    const delivered: number[] = [];
    let cursor = 0;
    let rng = 42;
    const rand = () => (rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    while (delivered.length < log.length) {
      // A noisy transport: sometimes repeats an old event, sometimes skips ahead.
      const r = rand();
      const idx =
        r < 0.1 ? Math.max(0, cursor - 3) : r < 0.2 ? Math.min(log.length - 1, cursor + 2) : cursor;
      const step = t.step(frame(log[idx]!));
      if (step.kind === 'deliver' && step.event.type === 'message_delta') {
        delivered.push(step.event.seq);
        cursor = step.event.seq;
      } else if (step.kind === 'gap') {
        cursor = Number(step.resumeFrom.split(':')[1]);
      }
    }
    expect(delivered).toEqual(log.map((e) => e.seq));
    expect(t.stats.gapsDetected).toBeGreaterThan(0);
    expect(t.stats.duplicatesDropped).toBeGreaterThan(0);
  });
});
