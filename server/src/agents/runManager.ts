import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { setMaxListeners } from 'node:events';
import {
  recordSpanError,
  startProducerSpan,
  withAgentSpan,
  type ProducedEvent,
  type TracewireMetrics,
} from '@tracewire/otel';
import { AppError } from '@tracewire/shared';
import type { AgentErrorCode, Message, Run, RunId, UserId } from '@tracewire/shared';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { EventLog } from '../events/eventLog.js';
import type { ChatStore } from '../storage/chatStore.js';
import { failedOutcome, reconcileRuns, type RunLedger } from '../storage/runLedger.js';
import { createEventSpanBudget } from '../telemetry/eventSpanBudget.js';
import { createTurnCounter } from '../telemetry/turnCounter.js';
import type { KeyedMutex } from '../util/keyedMutex.js';
import { isRunStoppedError, raceAbort, stop } from './abort.js';
import { isAgentError } from './agentError.js';
import { createCircuitBreakerRegistry } from './circuitBreaker.js';
import type { AgentRegistry } from './registry.js';
import { createRunContext } from './runContext.js';
import { createRunEmitter } from './runEmitter.js';
import type { RunEmitter } from './runEmitter.js';
import type { RunManager } from './types.js';

/** What {@link createRunManager} needs. */
export interface RunManagerOptions {
  store: ChatStore;
  events: EventLog;
  /** Ends runs: record, answer and terminal event together (see {@link RunLedger}). */
  ledger: RunLedger;
  agents: AgentRegistry;
  config: Config['agent'];
  logger: Logger;
  /** Per-thread lock shared with readers (chat.history) that need a consistent snapshot. */
  locks: KeyedMutex;
  /** Run, tool and event instruments. */
  metrics?: TracewireMetrics;
}

/** How a run ended; decided exactly once per run, then persisted. */
type Outcome =
  | { kind: 'completed'; answer: string }
  | { kind: 'failed'; code: AgentErrorCode; message: string; retryable?: boolean }
  | { kind: 'skipped'; reason: string };

interface ActiveRun {
  run: Run;
  controller: AbortController;
  log: Logger;
  /** Resolves (never rejects) once the terminal event is written and the run is unregistered. */
  done: Promise<void>;
}

/** How a run left by a previous process (crashed or stopped) is ended. */
const ABANDONED = {
  code: 'SHUTDOWN',
  message: 'The server stopped while the run was active; send the message again',
} as const;

/** Outcome for a run whose signal aborted: the first stop reason wins. */
function stopOutcome(reason: unknown): Outcome {
  if (isRunStoppedError(reason))
    return { kind: 'failed', code: reason.code, message: reason.message };
  return { kind: 'failed', code: 'CANCELLED', message: 'The run was aborted' };
}

/**
 * Outcome for an agent that threw. Rules: an `AgentError` carries its own code (explicit wins,
 * e.g. RATE_LIMITED from a model endpoint, even after a failed tool call); otherwise a throw
 * after at least one failed tool call of the run is TOOL_FAILED (not retryable: the same
 * input fails the same way) and any other throw is INTERNAL (retryable). Only `AgentError`
 * and `AppError` messages reach clients; others are logged.
 */
function thrownOutcome(error: unknown, toolFailures: number, log: Logger): Outcome {
  log.warn({ err: error }, 'agent threw');
  if (isAgentError(error)) {
    return { kind: 'failed', code: error.code, message: error.message, retryable: error.retryable };
  }
  const message = AppError.is(error) ? error.message : undefined;
  if (toolFailures > 0) {
    return {
      kind: 'failed',
      code: 'TOOL_FAILED',
      message: message ?? 'A tool call failed and the agent could not continue',
    };
  }
  return { kind: 'failed', code: 'INTERNAL', message: message ?? 'The agent failed unexpectedly' };
}

/** Pauses between attempts to store a run's end while storage is unavailable (about 30 s in all). */
const FINISH_RETRY_DELAYS_MS = [50, 200, 500, 1_000, 2_000, 4_000, 8_000, 15_000];

/**
 * Stores a run's end, trying again while storage is unavailable (a lock held past the busy
 * timeout, an engine restarting): given up, the run would stay running until the next start's
 * reconciliation. Safe to repeat: a run that already ended is returned unchanged.
 */
async function untilStored<T>(finish: () => Promise<T>, log: Logger): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await finish();
    } catch (err) {
      const delay = FINISH_RETRY_DELAYS_MS[attempt];
      if (!AppError.is(err) || err.code !== 'UNAVAILABLE' || delay === undefined) throw err;
      log.warn(
        { err, attempt: attempt + 1, retry_in_ms: delay },
        'could not store the end of the run; trying again',
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Creates the server's run manager: runs agents in the background, independent of any
 * connection, with per-run and per-tool timeouts, cancellation and graceful shutdown.
 * Whatever races (cancel, timeout, agent error, completion, shutdown), each run gets
 * exactly one terminal event (`agent_completed` or `agent_error`), after the run's other
 * events, written with its status and answer in one step of the {@link RunLedger}, under
 * the thread's lock.
 */
export function createRunManager(opts: RunManagerOptions): RunManager {
  const { store, events, ledger, config, locks } = opts;
  // One breaker per tool for the whole server (see createCircuitBreakerRegistry).
  const breakers = createCircuitBreakerRegistry(config.toolBreaker ?? {});
  // Published events of every run, counted per turn: one metric call per type and turn.
  const metrics = opts.metrics;
  const published =
    metrics &&
    createTurnCounter((counts) => {
      for (const [type, n] of counts)
        metrics.eventsPublished.add(n, { 'tracewire.event.type': type });
    });
  // One budget of per-event spans for every run of the process (terminal events always get one).
  const spanBudget =
    config.eventSpansPerSecond === undefined
      ? undefined
      : createEventSpanBudget({ perSecond: config.eventSpansPerSecond, metrics });
  const active = new Map<RunId, ActiveRun>();
  const activeByUser = new Map<UserId, Set<RunId>>();
  let closing = false;
  let shutdownPromise: Promise<void> | undefined;

  const runLogger = (run: Run) =>
    opts.logger.child({
      run_id: run.id,
      thread_id: run.threadId,
      user_id: run.userId,
      agent: run.agent,
    });

  function register(entry: ActiveRun): void {
    active.set(entry.run.id, entry);
    const ids = activeByUser.get(entry.run.userId) ?? new Set<RunId>();
    ids.add(entry.run.id);
    activeByUser.set(entry.run.userId, ids);
  }

  function unregister(run: Run): void {
    active.delete(run.id);
    const ids = activeByUser.get(run.userId);
    ids?.delete(run.id);
    if (ids?.size === 0) activeByUser.delete(run.userId);
  }

  /**
   * Ends the run through the ledger (record, answer and the single terminal event in one
   * step), under the thread's lock so that `chat.history` sees the answer and the event
   * together. The terminal event gets its PRODUCER span here (the run's emitter is closed).
   */
  async function finish(run: Run, outcome: Outcome, log: Logger): Promise<void> {
    if (outcome.kind === 'skipped') {
      log.warn({ reason: outcome.reason }, 'run skipped');
      return;
    }
    const type = outcome.kind === 'completed' ? 'agent_completed' : 'agent_error';
    await locks.run(run.threadId, async () => {
      const envelope: ProducedEvent = { threadId: run.threadId, runId: run.id, type };
      const { span, event } = startProducerSpan(envelope);
      try {
        const ended = await untilStored(
          () =>
            ledger.finishRun({
              run,
              outcome: outcome.kind === 'completed' ? outcome : failedOutcome(outcome),
              terminal: { _meta: event._meta },
            }),
          log,
        );
        if (!ended.event) {
          log.warn(
            { status: ended.run.status },
            'run had already ended; no terminal event written',
          );
          return;
        }
        span.setAttribute('messaging.message.id', String(ended.event.seq));
        published?.add(type);
      } catch (err) {
        recordSpanError(span, err);
        throw err;
      } finally {
        span.end();
      }
    });
  }

  /** Runs the agent until it returns, throws or the run's signal aborts; decides the outcome. */
  async function runAgent(
    entry: ActiveRun,
    message: Message,
    emitter: RunEmitter,
  ): Promise<Outcome> {
    const { run, log } = entry;
    const { signal } = entry.controller;
    // Aborted before starting: only a start after shutdown gets here.
    if (signal.aborted) return stopOutcome(signal.reason);
    if (!opts.agents.has(run.agent)) {
      return { kind: 'failed', code: 'INTERNAL', message: `Unknown agent "${run.agent}"` };
    }
    const agent = opts.agents.get(run.agent);
    const running = await store.updateRun(run.id, { status: 'running', startedAt: new Date() });
    if (running.status !== 'running')
      return { kind: 'skipped', reason: `run is ${running.status}` };
    await emitter.emit({ type: 'agent_started', agent: agent.name, messageId: message.id });
    // Clients see `agent_started` before the agent's first step runs, not with its first
    // batch: wait for the commit (subscribers are notified in it), then one macrotask, in
    // which the transport's per-turn write batch leaves. A failed write surfaces at the
    // next emit, as for every event.
    await emitter.settled().catch(() => undefined);
    await nextMacrotask();

    const handle = createRunContext({
      run: running,
      message,
      agent,
      signal,
      log,
      paceMs: config.paceMs,
      toolTimeoutMs: config.toolTimeoutMs,
      emit: emitter.emit,
      metrics: opts.metrics,
      breakers,
      history: (limit) => store.recentMessages(run.threadId, { before: message.id, limit }),
    });
    try {
      // Raced so that an agent ignoring its signal cannot keep the run alive.
      await raceAbort(
        Promise.resolve().then(() => agent.run(handle.ctx)),
        signal,
      );
    } catch (error) {
      return signal.aborted
        ? stopOutcome(signal.reason)
        : thrownOutcome(error, handle.toolFailures(), log);
    }
    return signal.aborted
      ? stopOutcome(signal.reason)
      : { kind: 'completed', answer: handle.answer() };
  }

  /** Runs one agent inside its `invoke_agent` span (its events and tools nest under it). */
  function execute(entry: ActiveRun, message: Message): Promise<void> {
    const { run } = entry;
    return withAgentSpan(run.agent, () => executeInSpan(entry, message), {
      attributes: { 'gen_ai.conversation.id': run.threadId, 'tracewire.run.id': run.id },
    });
  }

  async function executeInSpan(entry: ActiveRun, message: Message): Promise<void> {
    const { run, controller, log } = entry;
    const startedAt = performance.now();
    const emitter = createRunEmitter(events, run, { published, spanBudget });
    const timer = setTimeout(() => {
      stop(controller, 'TIMEOUT', `The run timed out after ${config.runTimeoutMs} ms`);
    }, config.runTimeoutMs);
    let outcome: Outcome;
    try {
      outcome = await runAgent(entry, message, emitter);
    } catch (error) {
      log.error({ err: error }, 'run failed outside the agent');
      outcome = { kind: 'failed', code: 'INTERNAL', message: 'The run failed unexpectedly' };
    } finally {
      clearTimeout(timer);
    }
    // From here on nothing the agent still does can write an event.
    await emitter.close();
    await finish(run, outcome, log);
    opts.metrics?.runDuration.record((performance.now() - startedAt) / 1000, {
      'tracewire.run.outcome': outcome.kind === 'failed' ? outcome.code : outcome.kind,
    });
    log.info(
      {
        outcome: outcome.kind === 'failed' ? outcome.code : outcome.kind,
        duration_ms: Math.round(performance.now() - startedAt),
      },
      'run ended',
    );
  }

  return {
    start(run, message) {
      if (active.has(run.id)) {
        opts.logger.warn({ run_id: run.id }, 'run is already active; start ignored');
        return;
      }
      const controller = new AbortController();
      // Every tool call in flight listens on the run's signal; many at once is normal.
      setMaxListeners(0, controller.signal);
      if (closing) stop(controller, 'SHUTDOWN', 'The server is shutting down');
      const entry: ActiveRun = { run, controller, log: runLogger(run), done: Promise.resolve() };
      register(entry);
      entry.log.info('run started');
      entry.done = execute(entry, message)
        .catch((error: unknown) =>
          entry.log.error({ err: error }, 'could not persist the end of the run'),
        )
        .finally(() => unregister(run));
    },

    async cancel(runId) {
      const entry = active.get(runId);
      if (entry) {
        stop(entry.controller, 'CANCELLED', 'The run was cancelled');
        await entry.done;
      }
      const run = await store.getRun(runId);
      if (!run) throw new AppError('NOT_FOUND', `Run ${runId} not found`);
      return run;
    },

    activeRunCount: (userId) => activeByUser.get(userId)?.size ?? 0,

    toolBreakerStats: () => breakers.stats(),

    async reconcile() {
      const summary = await reconcileRuns({
        ledger,
        abandoned: ABANDONED,
        skip: (run) => active.has(run.id),
        locks,
        logger: opts.logger,
      });
      const touched = Object.entries(summary).filter(([action, n]) => action !== 'none' && n > 0);
      if (touched.length > 0)
        opts.logger.info(summary, 'reconciled runs left by a previous process');
      return summary;
    },

    shutdown(graceMs) {
      shutdownPromise ??= (async () => {
        closing = true;
        if (active.size > 0 && graceMs > 0) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const graceOver = new Promise<void>((resolve) => {
            timer = setTimeout(resolve, graceMs);
          });
          await Promise.race([Promise.all([...active.values()].map((e) => e.done)), graceOver]);
          clearTimeout(timer);
        }
        for (const entry of active.values())
          stop(entry.controller, 'SHUTDOWN', 'The server is shutting down');
        // Loop: runs started during shutdown end at once with SHUTDOWN but still need waiting for.
        while (active.size > 0) await Promise.all([...active.values()].map((e) => e.done));
      })();
      return shutdownPromise;
    },
  };
}
