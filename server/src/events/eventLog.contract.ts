import {
  AppError,
  createMessageId,
  createRunId,
  createThreadId,
  createToolCallId,
  type AgentEvent,
  type RunId,
  type ThreadId,
} from '@tracewire/shared';
import { describe, expect, test, vi } from 'vitest';
import type { AgentEventDraft, EventLog } from './eventLog.js';

/** Makes a fresh, empty event log; disposing it closes the log and removes its data. */
export type EventLogFactory = () => Promise<{ events: EventLog } & AsyncDisposable>;

/** `n` text deltas for one run (`prefix0`, `prefix1`, …). */
export function deltaDrafts(opts: {
  threadId: ThreadId;
  runId?: RunId;
  n: number;
  prefix?: string;
}): AgentEventDraft[] {
  const runId = opts.runId ?? createRunId();
  return Array.from({ length: opts.n }, (_, i) => ({
    type: 'message_delta' as const,
    threadId: opts.threadId,
    runId,
    ts: Date.now(),
    delta: `${opts.prefix ?? 'd'}${i}`,
  }));
}

/** One draft of every event type, with awkward payloads (nested unknowns, Dates, _meta). */
export function everyKindOfDraft(threadId: ThreadId): AgentEventDraft[] {
  const runId = createRunId();
  const toolCallId = createToolCallId();
  const ts = Date.now();
  return [
    {
      type: 'agent_started',
      threadId,
      runId,
      ts,
      agent: 'demo',
      messageId: createMessageId(),
      _meta: {
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tracestate: 'k=v',
      },
    },
    { type: 'agent_thinking', threadId, runId, ts: ts + 1, text: 'Let me think… ✨ "quoted"\n' },
    {
      type: 'tool_executing',
      threadId,
      runId,
      ts: ts + 2,
      toolCallId,
      tool: 'calculator',
      args: { expr: '2+2', nested: [1, null, { deep: true, list: ['a', 1.5, -3] }], empty: {} },
    },
    {
      type: 'tool_completed',
      threadId,
      runId,
      ts: ts + 3,
      toolCallId,
      tool: 'calculator',
      ok: true,
      result: { value: 4, at: new Date(ts), tags: ['x'] },
      durationMs: 3,
    },
    {
      type: 'tool_completed',
      threadId,
      runId,
      ts: ts + 4,
      toolCallId: createToolCallId(),
      tool: 'clock',
      ok: false,
      error: { code: 'TIMEOUT', message: 'tool timed out' },
      durationMs: 10_000,
    },
    { type: 'message_delta', threadId, runId, ts: ts + 5, delta: 'The answer is 4.' },
    {
      type: 'agent_completed',
      threadId,
      runId,
      ts: ts + 6,
      message: {
        id: createMessageId(),
        threadId,
        role: 'assistant',
        content: 'The answer is 4.',
        runId,
        clientMessageId: null,
        createdAt: new Date(ts + 6),
      },
    },
    {
      type: 'agent_error',
      threadId,
      runId: createRunId(),
      ts: ts + 7,
      code: 'RATE_LIMITED',
      message: 'slow down',
      retryable: true,
    },
  ];
}

/** The AppError code `fn` throws synchronously (undefined when it does not throw one). */
function thrownCode(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    return AppError.is(err) ? err.code : undefined;
  }
  return undefined;
}

async function expectUnavailable(promise: Promise<unknown>): Promise<void> {
  const err: unknown = await promise.then(
    () => new Error('expected the call to fail'),
    (e: unknown) => e,
  );
  expect(AppError.is(err) && err.code).toBe('UNAVAILABLE');
}

const seqs = (events: readonly AgentEvent[]) => events.map((e) => e.seq);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * The behaviour every {@link EventLog} back end must have. Call once per back end with a
 * factory that gives a fresh log.
 */
export function describeEventLogContract(name: string, factory: EventLogFactory): void {
  describe(`EventLog contract: ${name}`, () => {
    test('starts a new stream empty with an epoch that stays stable', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const head = await ctx.events.head(threadId);
      expect(head.headSeq).toBe(0);
      expect(head.firstSeq).toBe(1);
      expect(head.epoch).toMatch(/^[0-9a-z]{1,32}$/);
      expect(await ctx.events.head(threadId)).toEqual(head);
      expect(await ctx.events.read(threadId, 0, 10)).toEqual([]);
    });

    test('assigns seq from 1 and the stream epoch, and reads the events back', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const drafts = deltaDrafts({ threadId, n: 3 });
      const stored = await ctx.events.append(threadId, drafts);
      const { epoch } = await ctx.events.head(threadId);
      expect(stored).toEqual(drafts.map((d, i) => ({ ...d, seq: i + 1, epoch })));
      expect(await ctx.events.read(threadId, 0, 10)).toEqual(stored);
      expect(await ctx.events.head(threadId)).toEqual({ epoch, headSeq: 3, firstSeq: 1 });
    });

    test('round-trips every event type exactly, including _meta, unknown JSON and Dates', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const drafts = everyKindOfDraft(threadId);
      const stored = await ctx.events.append(threadId, drafts);
      const read = await ctx.events.read(threadId, 0, 100);
      expect(read).toStrictEqual(stored);
      const completed = read.find((e) => e.type === 'agent_completed');
      expect(completed?.type === 'agent_completed' && completed.message.createdAt).toBeInstanceOf(
        Date,
      );
      const tool = read.find((e) => e.type === 'tool_completed' && e.ok);
      expect((tool as { result: { at: unknown } }).result.at).toBeInstanceOf(Date);
      expect(read[0]!._meta).toEqual(drafts[0]!._meta);
    });

    test('keeps appends issued concurrently contiguous and in call order', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const heard: number[] = [];
      const unsubscribe = ctx.events.subscribe(threadId, (e) => heard.push(e.seq));
      const calls = Array.from({ length: 20 }, (_, i) =>
        ctx.events.append(threadId, deltaDrafts({ threadId, n: 50, prefix: `c${i}-` })),
      );
      const results = await Promise.all(calls);
      unsubscribe();
      results.forEach((events, i) => {
        expect(seqs(events)).toEqual(range(i * 50 + 1, i * 50 + 50));
        expect(
          events.every((e) => e.type === 'message_delta' && e.delta.startsWith(`c${i}-`)),
        ).toBe(true);
      });
      expect(heard).toEqual(range(1, 1000));
      const all = [];
      for (let after = 0; ;) {
        const page = await ctx.events.read(threadId, after, 300);
        if (page.length === 0) break;
        all.push(...page);
        after = page[page.length - 1]!.seq;
      }
      expect(seqs(all)).toEqual(range(1, 1000));
      expect(all).toEqual(results.flat());
      expect((await ctx.events.head(threadId)).headSeq).toBe(1000);
    });

    test('keeps order when appends interleave with awaits from many producers', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const heard: number[] = [];
      ctx.events.subscribe(threadId, (e) => heard.push(e.seq));
      const producer = async (p: number) => {
        const out: number[] = [];
        for (let i = 0; i < 10; i++) {
          const [e] = await ctx.events.append(
            threadId,
            deltaDrafts({ threadId, n: 1, prefix: `p${p}-` }),
          );
          out.push(e!.seq);
        }
        return out;
      };
      const perProducer = await Promise.all(Array.from({ length: 8 }, (_, p) => producer(p)));
      for (const own of perProducer) expect(own).toEqual([...own].sort((a, b) => a - b));
      expect(perProducer.flat().sort((a, b) => a - b)).toEqual(range(1, 80));
      expect(heard).toEqual(range(1, 80));
    });

    test('pages reads with afterSeq and limit', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      await ctx.events.append(threadId, deltaDrafts({ threadId, n: 25 }));
      expect(seqs(await ctx.events.read(threadId, 0, 10))).toEqual(range(1, 10));
      expect(seqs(await ctx.events.read(threadId, 10, 10))).toEqual(range(11, 20));
      expect(seqs(await ctx.events.read(threadId, 20, 10))).toEqual(range(21, 25));
      expect(await ctx.events.read(threadId, 25, 10)).toEqual([]);
      expect(seqs(await ctx.events.read(threadId, 7, 1))).toEqual([8]);
    });

    test('reads nothing for a thread that has no events', async () => {
      await using ctx = await factory();
      expect(await ctx.events.read(createThreadId(), 0, 50)).toEqual([]);
    });

    test('resolves an empty append without moving the head', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      expect(await ctx.events.append(threadId, [])).toEqual([]);
      expect((await ctx.events.head(threadId)).headSeq).toBe(0);
    });

    test('numbers each thread’s stream independently', async () => {
      await using ctx = await factory();
      const a = createThreadId();
      const b = createThreadId();
      await ctx.events.append(a, deltaDrafts({ threadId: a, n: 3 }));
      const inB = await ctx.events.append(b, deltaDrafts({ threadId: b, n: 2 }));
      expect(seqs(inB)).toEqual([1, 2]);
      expect((await ctx.events.head(a)).headSeq).toBe(3);
      expect((await ctx.events.read(b, 0, 10)).every((e) => e.threadId === b)).toBe(true);
    });

    test('calls listeners with every event in seq order before append resolves', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const first: AgentEvent[] = [];
      const second: number[] = [];
      ctx.events.subscribe(threadId, (e) => first.push(e));
      ctx.events.subscribe(threadId, (e) => second.push(e.seq));
      const stored = await ctx.events.append(threadId, deltaDrafts({ threadId, n: 5 }));
      expect(first).toEqual(stored);
      expect(second).toEqual([1, 2, 3, 4, 5]);
    });

    test('stops calling a listener after it unsubscribes', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const heard: number[] = [];
      const unsubscribe = ctx.events.subscribe(threadId, (e) => heard.push(e.seq));
      await ctx.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
      unsubscribe();
      unsubscribe();
      await ctx.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
      expect(heard).toEqual([1, 2]);
    });

    test('never shows a listener of one thread the events of another', async () => {
      await using ctx = await factory();
      const a = createThreadId();
      const b = createThreadId();
      const heardA: AgentEvent[] = [];
      const heardB: AgentEvent[] = [];
      ctx.events.subscribe(a, (e) => heardA.push(e));
      ctx.events.subscribe(b, (e) => heardB.push(e));
      await Promise.all([
        ctx.events.append(a, deltaDrafts({ threadId: a, n: 4 })),
        ctx.events.append(b, deltaDrafts({ threadId: b, n: 3 })),
        ctx.events.append(a, deltaDrafts({ threadId: a, n: 1 })),
      ]);
      expect(heardA.map((e) => e.threadId)).toEqual(Array(5).fill(a));
      expect(seqs(heardA)).toEqual(range(1, 5));
      expect(heardB.map((e) => e.threadId)).toEqual(Array(3).fill(b));
      expect(seqs(heardB)).toEqual(range(1, 3));
    });

    test('keeps delivering to other listeners when one throws', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const heard: number[] = [];
      ctx.events.subscribe(threadId, () => {
        throw new Error('listener bug');
      });
      ctx.events.subscribe(threadId, (e) => heard.push(e.seq));
      const stored = await ctx.events.append(threadId, deltaDrafts({ threadId, n: 3 }));
      expect(seqs(stored)).toEqual([1, 2, 3]);
      expect(heard).toEqual([1, 2, 3]);
      expect(seqs(await ctx.events.read(threadId, 0, 10))).toEqual([1, 2, 3]);
    });

    test('loses nothing between subscribe, head and backfill', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      await ctx.events.append(threadId, deltaDrafts({ threadId, n: 4 }));
      const live: number[] = [];
      ctx.events.subscribe(threadId, (e) => live.push(e.seq));
      const writing = ctx.events.append(threadId, deltaDrafts({ threadId, n: 3 }));
      const head = await ctx.events.head(threadId);
      const backfill = seqs(await ctx.events.read(threadId, 0, head.headSeq));
      await writing;
      const merged = [...new Set([...backfill, ...live])].sort((x, y) => x - y);
      expect(merged).toEqual(range(1, 7));
    });

    test('a position read from head() is before every event appended after it, pending appends included', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      await ctx.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
      const pending = ctx.events.append(threadId, deltaDrafts({ threadId, n: 3 }));
      const head = await ctx.events.head(threadId);
      const later = await ctx.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
      await pending;
      expect(later.every((e) => e.seq > head.headSeq)).toBe(true);
      // Resuming from the head gets exactly what came after it, whatever was pending.
      const after = seqs(await ctx.events.read(threadId, head.headSeq, 100));
      expect(after).toEqual(range(head.headSeq + 1, 7));
      expect(head.headSeq).toBeGreaterThanOrEqual(2);
    });

    test('fails calls with UNAVAILABLE after close and drops listeners', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const heard: number[] = [];
      ctx.events.subscribe(threadId, (e) => heard.push(e.seq));
      await ctx.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
      await ctx.events.close();
      await ctx.events.close();
      await expectUnavailable(ctx.events.append(threadId, deltaDrafts({ threadId, n: 1 })));
      await expectUnavailable(ctx.events.read(threadId, 0, 10));
      await expectUnavailable(ctx.events.head(threadId));
      expect(heard).toEqual([1]);
    });

    test('enqueue reports each call once, in call order, after the listeners saw its events', async () => {
      await using ctx = await factory();
      const a = createThreadId();
      const b = createThreadId();
      const heard: number[] = [];
      ctx.events.subscribe(a, (e) => heard.push(e.seq));
      const reports: { call: number; seqs: number[]; heard: number }[] = [];
      const report = (call: number) => (err: AppError | null, stored: readonly AgentEvent[]) => {
        expect(err).toBeNull();
        reports.push({ call, seqs: seqs([...stored]), heard: heard.length });
      };
      ctx.events.enqueue(a, deltaDrafts({ threadId: a, n: 2 }), report(1));
      ctx.events.enqueue(b, deltaDrafts({ threadId: b, n: 1 }), report(2));
      ctx.events.enqueue(a, deltaDrafts({ threadId: a, n: 1 }), report(3));
      expect(reports).toEqual([]); // never synchronously
      await ctx.events.append(a, []);
      expect(reports.map((r) => [r.call, r.seqs])).toEqual([
        [1, [1, 2]],
        [2, [1]],
        [3, [3]],
      ]);
      // Reported once committed and heard, not before.
      expect(reports.find((r) => r.call === 1)!.heard).toBeGreaterThanOrEqual(2);
      expect(reports.find((r) => r.call === 3)!.heard).toBe(3);
      expect(seqs(await ctx.events.read(a, 0, 10))).toEqual([1, 2, 3]);
    });

    test('enqueue throws a refused call at once and takes no position for it', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const other = createThreadId();
      const done = vi.fn();
      expect(
        thrownCode(() =>
          ctx.events.enqueue(threadId, deltaDrafts({ threadId: other, n: 1 }), done),
        ),
      ).toBe('BAD_REQUEST');
      await ctx.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
      expect((await ctx.events.head(threadId)).headSeq).toBe(1);
      await ctx.events.close();
      expect(
        thrownCode(() => ctx.events.enqueue(threadId, deltaDrafts({ threadId, n: 1 }), done)),
      ).toBe('UNAVAILABLE');
      expect(done).not.toHaveBeenCalled();
    });

    test('enqueue reports to every caller when one callback throws, and a re-entrant append after them', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const order: string[] = [];
      let nested: Promise<AgentEvent[]> | undefined;
      ctx.events.enqueue(threadId, deltaDrafts({ threadId, n: 1 }), () => {
        order.push('first');
        nested = ctx.events.append(threadId, deltaDrafts({ threadId, n: 1 }));
        void nested.then(() => order.push('nested'));
        throw new Error('callback bug');
      });
      ctx.events.enqueue(threadId, deltaDrafts({ threadId, n: 1 }), (err, stored) => {
        order.push(`second:${stored[0]?.seq}`);
      });
      await ctx.events.append(threadId, []);
      await nested;
      await Promise.resolve();
      expect(order).toEqual(['first', 'second:2', 'nested']);
      expect(seqs(await ctx.events.read(threadId, 0, 10))).toEqual([1, 2, 3]);
    });

    test('stores appends still pending when it closes', async () => {
      await using ctx = await factory();
      const threadId = createThreadId();
      const pending = ctx.events.append(threadId, deltaDrafts({ threadId, n: 2 }));
      await ctx.events.close();
      expect(seqs(await pending)).toEqual([1, 2]);
    });
  });
}
