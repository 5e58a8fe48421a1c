// One suite per contract, in one file (past ~350 lines) so that a back end runs all of it with one call.
import {
  createClientMessageId,
  createMessageId,
  createRunId,
  isTerminalEvent,
  type AgentErrorCode,
  type AgentEvent,
  type Message,
  type Run,
  type UserId,
} from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { deltaDrafts } from '../events/eventLog.contract.js';
import type { AgentEventDraft, EventLog } from '../events/eventLog.js';
import type { ChatStore } from './chatStore.js';
import { expectAppError } from './chatStore.contract.js';
import {
  failedOutcome,
  reconcileRuns,
  statusForCode,
  type RunLedger,
  type RunOutcome,
  type TerminalEvent,
} from './runLedger.js';

/** A terminal event before the log gives it a position. */
export type TerminalDraft = Extract<AgentEventDraft, { type: 'agent_completed' | 'agent_error' }>;

/**
 * A fresh back end for the run ledger contract; disposing it closes it and removes its data.
 * `halfEnd` are the back end's test hooks: each writes one half of a run's end, the state a
 * crash between two separate writes would leave.
 */
export interface RunLedgerFixture extends AsyncDisposable {
  store: ChatStore;
  events: EventLog;
  ledger: RunLedger;
  halfEnd: {
    /** Ends the record (status, error; the answer for `completed`), writes no terminal event. */
    recordOnly(run: Run, outcome: RunOutcome): Promise<void>;
    /** Stores a terminal event as the ledger would have, leaves the record as it is. */
    eventOnly(draft: TerminalDraft): Promise<TerminalEvent>;
  };
}

/**
 * `halfEnd` hooks written through the `ChatStore` and `EventLog` interfaces only: the record
 * ended without an event (`updateRun` / `completeRun`), or an event appended without its
 * record. Any back end whose store and log are separate objects can use them.
 */
export function halfEndThroughInterfaces(
  store: ChatStore,
  events: EventLog,
): RunLedgerFixture['halfEnd'] {
  return {
    async recordOnly(run, outcome) {
      if (outcome.kind === 'completed') {
        await store.completeRun({ runId: run.id, content: outcome.answer });
        return;
      }
      const error = { code: outcome.code, message: outcome.message };
      await store.updateRun(run.id, { status: statusForCode(outcome.code), error });
    },
    async eventOnly(draft) {
      const [event] = await events.append(draft.threadId, [draft]);
      if (!event || !isTerminalEvent(event)) throw new Error('terminal event not stored');
      return event;
    },
  };
}

/** Makes a fresh, empty back end for {@link describeRunLedgerContract}. */
export type RunLedgerFactory = () => Promise<RunLedgerFixture>;

const SHUTDOWN = { code: 'SHUTDOWN', message: 'The server stopped' } as const;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

let userSeq = 0;

/** A queued (or, with `running`, started) run on a new thread, with `deltas` events. */
async function newRun(ctx: RunLedgerFixture, opts: { running?: boolean; deltas?: number } = {}) {
  const userId = `ledger-${process.pid}-${++userSeq}` as UserId;
  const thread = await ctx.store.createThread({ userId, title: 't', agent: 'demo' });
  let { run } = await ctx.store.createMessageAndRun({
    threadId: thread.id,
    userId,
    content: 'what is 2+2?',
    clientMessageId: createClientMessageId(),
    agent: 'demo',
  });
  if (opts.running !== false)
    run = await ctx.store.updateRun(run.id, { status: 'running', startedAt: new Date() });
  if (opts.deltas)
    await ctx.events.append(
      run.threadId,
      deltaDrafts({ threadId: run.threadId, runId: run.id, n: opts.deltas }),
    );
  return run;
}

const completed = (answer = 'The answer is 4.'): RunOutcome => ({ kind: 'completed', answer });
const failed = (code: AgentErrorCode) => failedOutcome({ code, message: `ended: ${code}` });

/** What a client can see of a run afterwards: its events, terminal events and answers. */
async function observe(ctx: RunLedgerFixture, run: Run) {
  const events = (await ctx.events.read(run.threadId, 0, 1000)).filter((e) => e.runId === run.id);
  const messages = await ctx.store.listMessages(run.threadId, { limit: 100 });
  return {
    events,
    terminals: events.filter(isTerminalEvent),
    answers: messages.items.filter((m) => m.role === 'assistant' && m.runId === run.id),
    record: await ctx.store.getRun(run.id),
  };
}

/** The rule: finished iff exactly one terminal event; answer iff agent_completed, equal to it. */
async function expectConsistent(ctx: RunLedgerFixture, run: Run): Promise<TerminalEvent> {
  const seen = await observe(ctx, run);
  expect(seen.terminals).toHaveLength(1);
  const end = seen.terminals[0]!;
  if (end.type === 'agent_completed') {
    expect(seen.record).toMatchObject({ status: 'completed', error: null });
    expect(seen.answers).toEqual([end.message]);
  } else {
    const status = end.code === 'CANCELLED' ? 'cancelled' : 'failed';
    expect(seen.record).toMatchObject({ status, error: { code: end.code, message: end.message } });
    expect(seen.answers).toEqual([]);
  }
  return end;
}

/** An `agent_completed` draft carrying `message` (a new answer by default). */
function completedDraft(run: Run, message: Message | string): TerminalDraft {
  const answer: Message =
    typeof message !== 'string'
      ? message
      : {
          id: createMessageId(),
          threadId: run.threadId,
          role: 'assistant',
          content: message,
          runId: run.id,
          clientMessageId: null,
          createdAt: new Date(Date.now() - 1000),
        };
  const ts = Date.now() - 500;
  return { type: 'agent_completed', threadId: run.threadId, runId: run.id, ts, message: answer };
}

/**
 * The behaviour every {@link RunLedger} back end must have: the crash-consistency rule (see
 * `RunLedger`), finishing and reconciling. No assumption about how the back end stores runs
 * and events: broken states come from the fixture's `halfEnd` hooks.
 */
export function describeRunLedgerContract(name: string, factory: RunLedgerFactory): void {
  describe(`RunLedger contract: ${name}`, () => {
    test('finishes a completed run in one step: its record, its answer and one agent_completed carrying it, after the run’s events', async () => {
      await using ctx = await factory();
      const run = await newRun(ctx, { deltas: 3 });
      const ts = Date.now() + 5;
      const ended = await ctx.ledger.finishRun({
        run,
        outcome: completed('It is noon.'),
        terminal: { ts, _meta: { traceparent: TRACEPARENT } },
      });
      expect(ended.run).toMatchObject({ id: run.id, status: 'completed', error: null });
      expect(ended.run.endedAt?.getTime()).toBe(ts);
      expect(ended.message).toMatchObject({
        role: 'assistant',
        content: 'It is noon.',
        runId: run.id,
      });
      expect(ended.event).toMatchObject({
        type: 'agent_completed',
        seq: 4,
        ts,
        _meta: { traceparent: TRACEPARENT },
      });
      expect(ended.event!.type === 'agent_completed' && ended.event!.message).toEqual(
        ended.message,
      );
      expect(await ctx.store.getRun(run.id)).toEqual(ended.run);
      expect(await expectConsistent(ctx, run)).toEqual(ended.event);
      expect((await ctx.events.head(run.threadId)).headSeq).toBe(4);
    });

    test('finishes a failed or cancelled run with agent_error and no answer; the status follows the code', async () => {
      await using ctx = await factory();
      for (const [code, status] of [
        ['TOOL_FAILED', 'failed'],
        ['CANCELLED', 'cancelled'],
        ['TIMEOUT', 'failed'],
      ] as const) {
        const run = await newRun(ctx, { deltas: 1 });
        const ended = await ctx.ledger.finishRun({ run, outcome: failed(code) });
        expect(ended.run).toMatchObject({ status, error: { code, message: `ended: ${code}` } });
        expect(ended.message).toBeNull();
        expect(ended.event).toMatchObject({
          type: 'agent_error',
          seq: 2,
          code,
          retryable: code === 'TIMEOUT',
        });
        expect(await expectConsistent(ctx, run)).toEqual(ended.event);
      }
    });

    test('never writes a second terminal event: a run that already ended is returned unchanged', async () => {
      await using ctx = await factory();
      const run = await newRun(ctx);
      const first = await ctx.ledger.finishRun({ run, outcome: completed() });
      for (const outcome of [completed('late'), failed('CANCELLED'), failed('SHUTDOWN')]) {
        expect(await ctx.ledger.finishRun({ run, outcome })).toEqual({
          run: first.run,
          message: null,
          event: null,
        });
      }
      expect(await expectConsistent(ctx, run)).toEqual(first.event);

      const cancelled = await newRun(ctx);
      const end = await ctx.ledger.finishRun({ run: cancelled, outcome: failed('CANCELLED') });
      const late = await ctx.ledger.finishRun({ run: cancelled, outcome: completed() });
      expect(late).toEqual({ run: end.run, message: null, event: null });
      expect(await expectConsistent(ctx, cancelled)).toEqual(end.event);
    });

    test('of concurrent finishes of one run exactly one writes, and the record agrees with it', async () => {
      await using ctx = await factory();
      const run = await newRun(ctx, { deltas: 2 });
      const results = await Promise.all([
        ctx.ledger.finishRun({ run, outcome: failed('CANCELLED') }),
        ctx.ledger.finishRun({ run, outcome: completed() }),
        ctx.ledger.finishRun({ run, outcome: failed('TIMEOUT') }),
      ]);
      const winners = results.filter((r) => r.event !== null);
      expect(winners).toHaveLength(1);
      expect(await expectConsistent(ctx, run)).toEqual(winners[0]!.event);
    });

    test('live listeners have the terminal event when finishRun resolves, and the head includes it', async () => {
      await using ctx = await factory();
      const run = await newRun(ctx, { deltas: 2 });
      const heard: AgentEvent[] = [];
      const unsubscribe = ctx.events.subscribe(run.threadId, (e) => heard.push(e));
      try {
        const ended = await ctx.ledger.finishRun({ run, outcome: completed() });
        expect(heard).toEqual([ended.event]);
        expect((await ctx.events.head(run.threadId)).headSeq).toBe(ended.event!.seq);
      } finally {
        unsubscribe();
      }
    });

    test('finishing or reconciling an unknown run is NOT_FOUND', async () => {
      await using ctx = await factory();
      const run = { ...(await newRun(ctx)), id: createRunId() };
      await expectAppError(ctx.ledger.finishRun({ run, outcome: completed() }), 'NOT_FOUND');
      await expectAppError(ctx.ledger.reconcileRun(run.id, { abandoned: SHUTDOWN }), 'NOT_FOUND');
      expect(await ctx.events.read(run.threadId, 0, 10)).toEqual([]);
    });

    test('lists unfinished runs and finished runs missing their terminal event, not healthy ones', async () => {
      await using ctx = await factory();
      const queued = await newRun(ctx, { running: false });
      const running = await newRun(ctx);
      const healthy = await newRun(ctx);
      await ctx.ledger.finishRun({ run: healthy, outcome: completed() });
      const broken = await newRun(ctx);
      await ctx.halfEnd.recordOnly(broken, completed());
      const ids = (await ctx.ledger.listRunsToReconcile()).map((r) => r.id);
      expect(ids).toEqual(expect.arrayContaining([queued.id, running.id, broken.id]));
      expect(ids).not.toContain(healthy.id);
    });

    test('reconciles a completed record without its event: appends agent_completed with the stored answer, once', async () => {
      await using ctx = await factory();
      const run = await newRun(ctx, { deltas: 2 });
      await ctx.halfEnd.recordOnly(run, completed('kept'));
      const [answer] = (await observe(ctx, run)).answers;
      const result = await ctx.ledger.reconcileRun(run.id, { abandoned: SHUTDOWN });
      expect(result.action).toBe('emitted');
      expect(result.event).toMatchObject({ type: 'agent_completed', seq: 3, message: answer });
      expect(await expectConsistent(ctx, run)).toEqual(result.event);
      await expectReconciled(ctx, run);
    });

    test('reconciles a failed or cancelled record without its event: agent_error with its code, message and retryable', async () => {
      await using ctx = await factory();
      for (const code of ['TIMEOUT', 'CANCELLED', 'TOOL_FAILED'] as const) {
        const run = await newRun(ctx, { deltas: 1 });
        await ctx.halfEnd.recordOnly(run, failed(code));
        const result = await ctx.ledger.reconcileRun(run.id, { abandoned: SHUTDOWN });
        expect(result.action).toBe('emitted');
        expect(result.event).toMatchObject({
          type: 'agent_error',
          seq: 2,
          code,
          message: `ended: ${code}`,
          retryable: code === 'TIMEOUT',
        });
        expect(await expectConsistent(ctx, run)).toEqual(result.event);
        await expectReconciled(ctx, run);
      }
    });

    test('reconciles agent_completed whose record is unfinished: the record completes with the event’s message as its answer', async () => {
      await using ctx = await factory();
      const run = await newRun(ctx, { deltas: 2 });
      const shown = await ctx.halfEnd.eventOnly(completedDraft(run, 'as shown'));
      const result = await ctx.ledger.reconcileRun(run.id, { abandoned: SHUTDOWN });
      expect(result).toMatchObject({
        action: 'recorded',
        event: null,
        run: { status: 'completed' },
      });
      expect(result.run.endedAt?.getTime()).toBe(shown.ts);
      expect(await ctx.store.getRun(run.id)).toEqual(result.run);
      // Same id, text and time as the message clients were shown.
      expect(await expectConsistent(ctx, run)).toEqual(shown);
      await expectReconciled(ctx, run);
    });

    test('reconciles agent_error whose record is unfinished: status and error follow the event', async () => {
      await using ctx = await factory();
      const run = await newRun(ctx, { running: false });
      const shown = await ctx.halfEnd.eventOnly({
        type: 'agent_error',
        threadId: run.threadId,
        runId: run.id,
        ts: Date.now(),
        code: 'CANCELLED',
        message: 'cancelled by the user',
        retryable: false,
      });
      const result = await ctx.ledger.reconcileRun(run.id, { abandoned: SHUTDOWN });
      expect(result).toMatchObject({ action: 'recorded', run: { status: 'cancelled' } });
      expect(await expectConsistent(ctx, run)).toEqual(shown);
      await expectReconciled(ctx, run);
    });

    test('ends an unfinished run without a terminal event with the abandoned code, after its events', async () => {
      await using ctx = await factory();
      const run = await newRun(ctx, { deltas: 3 });
      const result = await ctx.ledger.reconcileRun(run.id, { abandoned: SHUTDOWN });
      expect(result.action).toBe('ended');
      expect(result.event).toMatchObject({
        type: 'agent_error',
        seq: 4,
        code: 'SHUTDOWN',
        retryable: true,
      });
      expect(result.run).toMatchObject({ status: 'failed', error: { code: 'SHUTDOWN' } });
      expect(await expectConsistent(ctx, run)).toEqual(result.event);
      await expectReconciled(ctx, run);
    });

    test('never writes a second terminal event when the record and the event are both there', async () => {
      await using ctx = await factory();
      const run = await newRun(ctx);
      await ctx.halfEnd.recordOnly(run, completed('same'));
      const [answer] = (await observe(ctx, run)).answers;
      const shown = await ctx.halfEnd.eventOnly(completedDraft(run, answer!));
      const result = await ctx.ledger.reconcileRun(run.id, { abandoned: SHUTDOWN });
      expect(['none', 'linked']).toContain(result.action);
      expect(await expectConsistent(ctx, run)).toEqual(shown);
      await expectReconciled(ctx, run);

      // Disagreeing halves cannot be repaired without contradicting a client: reported only.
      const odd = await newRun(ctx);
      await ctx.halfEnd.recordOnly(odd, failed('TIMEOUT'));
      await ctx.halfEnd.eventOnly(completedDraft(odd, 'shown'));
      expect(await ctx.ledger.reconcileRun(odd.id, { abandoned: SHUTDOWN })).toMatchObject({
        action: 'conflict',
        event: null,
      });
      expect((await observe(ctx, odd)).terminals).toHaveLength(1);
    });

    test('a healthy finished run reconciles to nothing', async () => {
      await using ctx = await factory();
      const run = await newRun(ctx);
      const ended = await ctx.ledger.finishRun({ run, outcome: failed('INTERNAL') });
      expect(await ctx.ledger.reconcileRun(run.id, { abandoned: SHUTDOWN })).toEqual({
        action: 'none',
        run: ended.run,
        event: null,
      });
      expect((await observe(ctx, run)).events).toEqual([ended.event]);
    });

    test('a whole reconcile pass repairs every broken run and a second pass adds nothing', async () => {
      await using ctx = await factory();
      const a = await newRun(ctx, { deltas: 1 });
      await ctx.halfEnd.recordOnly(a, completed());
      const b = await newRun(ctx);
      await ctx.halfEnd.eventOnly(completedDraft(b, 'b'));
      const c = await newRun(ctx, { running: false });
      const first = await reconcileRuns({ ledger: ctx.ledger, abandoned: SHUTDOWN });
      expect(first).toMatchObject({ emitted: 1, recorded: 1, ended: 1, failed: 0, conflict: 0 });
      const logs = await Promise.all([a, b, c].map((r) => ctx.events.read(r.threadId, 0, 100)));
      const second = await reconcileRuns({ ledger: ctx.ledger, abandoned: SHUTDOWN });
      expect(second).toMatchObject({ emitted: 0, recorded: 0, ended: 0, linked: 0, failed: 0 });
      expect(await Promise.all([a, b, c].map((r) => ctx.events.read(r.threadId, 0, 100)))).toEqual(
        logs,
      );
      for (const run of [a, b, c]) await expectConsistent(ctx, run);
    });
  });
}

/** Reconciling again does nothing, and the run is no longer listed. */
async function expectReconciled(ctx: RunLedgerFixture, run: Run): Promise<void> {
  const before = await ctx.events.read(run.threadId, 0, 1000);
  const again = await ctx.ledger.reconcileRun(run.id, { abandoned: SHUTDOWN });
  expect(again.action).toBe('none');
  expect(again.event).toBeNull();
  expect(await ctx.events.read(run.threadId, 0, 1000)).toEqual(before);
  expect((await ctx.ledger.listRunsToReconcile()).map((r) => r.id)).not.toContain(run.id);
}
