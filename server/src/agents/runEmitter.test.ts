import path from 'node:path';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { openSqliteStorage } from '../storage/sqlite/index.js';
import { openTestStorage, tempDir } from '../storage/sqlite/__tests__/testStorage.js';
import { createTurnCounter } from '../telemetry/turnCounter.js';
import { createRunEmitter } from './runEmitter.js';
import type { EventBody } from './runContext.js';
import { runningRun } from './__tests__/runningRun.js';

const logger = pino({ level: 'silent' });

const delta = (text: string): EventBody => ({ type: 'message_delta', delta: text });

describe('run emitter', () => {
  test('accepts events at once, in call order, and settles once they are committed', async () => {
    // A long batch window: the commit waits for the end of the turn whatever the machine's pace.
    await using storage = await openTestStorage({ maxBatchDelayMs: 10_000 });
    const run = runningRun();
    const published: [string, number][] = [];
    const counter = createTurnCounter((counts) => published.push(...counts));
    const emitter = createRunEmitter(storage.events, run, { published: counter });
    for (let i = 0; i < 5; i++) await emitter.emit(delta(`d${i}`));
    // Accepted, numbered, not committed yet: the log commits the turn's batch later.
    expect(await storage.events.read(run.threadId, 0, 10)).toEqual([]);
    await emitter.settled();
    const stored = await storage.events.read(run.threadId, 0, 10);
    expect(stored.map((e) => [e.seq, e.type === 'message_delta' && e.delta])).toEqual([
      [1, 'd0'],
      [2, 'd1'],
      [3, 'd2'],
      [4, 'd3'],
      [5, 'd4'],
    ]);
    expect(stored.every((e) => e.runId === run.id && e.threadId === run.threadId)).toBe(true);
    await emitter.close();
    expect(published).toEqual([['message_delta', 5]]);
    // Closed: later events are dropped, not written after the run's end.
    await emitter.emit(delta('late'));
    await emitter.settled();
    expect(await storage.events.read(run.threadId, 5, 10)).toEqual([]);
  });

  test('rejects a malformed event on its own emit and keeps writing the rest', async () => {
    await using storage = await openTestStorage();
    const run = runningRun();
    const emitter = createRunEmitter(storage.events, run);
    await emitter.emit(delta('before'));
    const bad = { type: 42, delta: 'x' } as unknown as EventBody;
    await expect(emitter.emit(bad)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await emitter.emit(delta('after'));
    await emitter.close();
    const stored = await storage.events.read(run.threadId, 0, 10);
    expect(stored.map((e) => e.seq)).toEqual([1, 2]);
  });

  test('settles its waiters even when the metrics counter throws', async () => {
    await using storage = await openTestStorage();
    const run = runningRun();
    const broken = {
      add: () => {
        throw new Error('metrics bug');
      },
      flush: () => undefined,
    };
    const emitter = createRunEmitter(storage.events, run, { published: broken });
    await emitter.emit(delta('a'));
    await emitter.emit(delta('b'));
    await emitter.close();
    expect((await storage.events.read(run.threadId, 0, 10)).map((e) => e.seq)).toEqual([1, 2]);
  });

  test('a write that fails to commit makes the next emit reject, and settles its waiters', async () => {
    using tmp = tempDir();
    const file = path.join(tmp.dir, 'data.db');
    const run = runningRun();
    const a = await openSqliteStorage({ file, logger });
    const b = await openSqliteStorage({ file, logger });
    try {
      await a.events.head(run.threadId);
      await b.events.head(run.threadId);
      await a.events.append(run.threadId, [
        { type: 'message_delta', delta: 'x', threadId: run.threadId, runId: run.id, ts: 1 },
      ]);
      // `b` still believes the stream is empty: its seq 1 is taken, so its commit fails.
      const emitter = createRunEmitter(b.events, run);
      await emitter.emit(delta('forked'));
      await emitter.settled();
      await expect(emitter.emit(delta('next'))).rejects.toMatchObject({ code: 'INTERNAL' });
      await emitter.close();
      expect((await a.events.read(run.threadId, 0, 10)).map((e) => e.seq)).toEqual([1]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  // With a zero batch window every append commits (and reports) within the call.
  test.each([
    ['batched per turn', 10_000],
    ['committed within each call', 0],
  ])(
    'ends each event’s PRODUCER span with its stored position, a refused one with an error (%s)',
    async (_, maxBatchDelayMs) => {
      const exporter = new InMemorySpanExporter();
      const provider = new BasicTracerProvider({
        spanProcessors: [new SimpleSpanProcessor(exporter)],
      });
      trace.setGlobalTracerProvider(provider);
      try {
        await using storage = await openTestStorage({ maxBatchDelayMs });
        const run = runningRun();
        const emitter = createRunEmitter(storage.events, run);
        await emitter.emit(delta('a'));
        await emitter.emit({ type: 7 } as unknown as EventBody).catch(() => undefined);
        await emitter.emit(delta('b'));
        await emitter.close();
        const spans = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.PRODUCER);
        const failed = spans.filter((s) => s.status.code === SpanStatusCode.ERROR);
        const stored = spans.filter((s) => s.status.code === SpanStatusCode.UNSET);
        expect(failed.map((s) => s.attributes['messaging.message.id'])).toEqual([undefined]);
        expect(stored.map((s) => s.attributes['messaging.message.id'])).toEqual(['1', '2']);
        // Each stored event carries its own span's context.
        const events = await storage.events.read(run.threadId, 0, 10);
        expect(events.map((e) => e._meta?.traceparent?.split('-')[2])).toEqual(
          stored.map((s) => s.spanContext().spanId),
        );
      } finally {
        trace.disable();
        await provider.shutdown();
      }
    },
  );
});
