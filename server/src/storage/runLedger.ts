import { isRetryableAgentCode } from '@tracewire/shared';
import type {
  AgentErrorCode,
  AgentEventOf,
  EventMeta,
  Message,
  Run,
  RunId,
  RunStatus,
} from '@tracewire/shared';
import type { Logger } from 'pino';
import type { KeyedMutex } from '../util/keyedMutex.js';

/** How a run ended, as the run manager decided it (exactly once per run). */
export type RunOutcome =
  | { kind: 'completed'; answer: string }
  | { kind: 'failed'; code: AgentErrorCode; message: string; retryable: boolean };

/** A run's terminal event: `agent_completed` or `agent_error`. */
export type TerminalEvent = AgentEventOf<'agent_completed'> | AgentEventOf<'agent_error'>;

/** What {@link RunLedger.finishRun} writes. */
export interface FinishRunInput {
  run: Pick<Run, 'id' | 'threadId'>;
  outcome: RunOutcome;
  /**
   * The terminal event's envelope: its creation time (also the run's `endedAt`; now by
   * default) and the trace context of its PRODUCER span.
   */
  terminal?: { ts?: number; _meta?: EventMeta | undefined };
}

/** What a finish wrote; `message` and `event` are null when the run had already ended. */
export interface FinishedRun {
  run: Run;
  /** The answer (for `completed` only), exactly as `event.message` carries it. */
  message: Message | null;
  event: TerminalEvent | null;
}

/**
 * What {@link RunLedger.reconcileRun} did:
 * - `none`: record and log agree; nothing written;
 * - `emitted`: the record had ended without its terminal event: appended, derived from it;
 * - `recorded`: the log held the terminal event of an unfinished record: record ended from it;
 * - `ended`: unfinished, no terminal event, no process left to end it: ended with `abandoned`;
 * - `linked`: both were there; the record now points at its event;
 * - `conflict`: both were there but disagree (or the log holds more than one terminal event):
 *   nothing can be repaired without contradicting what clients were shown; `detail` says why.
 */
export type ReconcileAction = 'none' | 'emitted' | 'recorded' | 'ended' | 'linked' | 'conflict';

/** The outcome of one run's reconciliation. */
export interface ReconcileResult {
  action: ReconcileAction;
  run: Run;
  /** The terminal event appended by this step (`emitted`, `ended`), else null. */
  event: TerminalEvent | null;
  /** Why a `conflict` could not be repaired. */
  detail?: string;
}

/** Options of {@link RunLedger.reconcileRun}. */
export interface ReconcileOptions {
  /**
   * How to end a run found unfinished without a terminal event: its process is gone
   * (`SHUTDOWN` for a restart on one instance; the cluster uses its own code).
   */
  abandoned: { code: AgentErrorCode; message: string };
}

/**
 * The one way a run ends. The rule every back end keeps, for every run, at every instant an
 * observer can see from outside and after any crash: **a run is finished in the store if and
 * only if the log holds exactly one terminal event (`agent_completed` | `agent_error`) for
 * it, and its answer message exists if and only if `agent_completed` does** (that event
 * carries the answer, same id). Nothing a client was shown is contradicted afterwards.
 *
 * How a back end keeps it:
 * - Store and log in one database (SQLite): the run's transition, its answer and its terminal
 *   event commit in one transaction; the event's seq follows every event accepted before.
 * - Store and log apart (PostgreSQL + Redis), where no transaction spans both: the terminal
 *   event is the commit point. It is appended first, by a script that refuses a second
 *   terminal event for the run id; the record (status, answer with the event's message id,
 *   the event's seq) is written after. A crash between the two leaves a state that
 *   {@link reconcileRun} completes, keyed on the run id, in the direction of the log.
 *
 * Ending a run through `ChatStore.updateRun` / `completeRun` alone writes no terminal event:
 * the server never does; tests do, to build the states a crash leaves.
 */
export interface RunLedger {
  /**
   * Ends a run with `outcome`: its record (status, timings, error), its answer (completed)
   * and its single terminal event, carrying the answer. A run that already ended is returned
   * unchanged and nothing is written (never a second terminal event). The event follows
   * every event of the thread accepted before the call. Resolves once the event is stored and
   * live listeners have seen it. NOT_FOUND for an unknown run.
   */
  finishRun(input: FinishRunInput): Promise<FinishedRun>;
  /**
   * The runs whose record does not (yet) point at its terminal event: unfinished runs
   * (including those active right now, somewhere) and finished runs whose event is missing.
   * Oldest first. Healthy finished runs are not listed.
   */
  listRunsToReconcile(): Promise<Run[]>;
  /**
   * Brings one run's record and log into agreement without ever writing a second terminal
   * event (see {@link ReconcileAction}); running it again does nothing. Call it only for a
   * run no process is running: an unfinished run without a terminal event is ended.
   */
  reconcileRun(runId: RunId, opts: ReconcileOptions): Promise<ReconcileResult>;
}

/**
 * True when sending the message again may succeed (the default `retryable` of `agent_error`:
 * the contract's `isRetryableAgentCode`).
 */
export const isRetryableCode = (code: AgentErrorCode): boolean => isRetryableAgentCode(code);

/** Run status that goes with an agent error code. */
export const statusForCode = (code: AgentErrorCode): RunStatus =>
  code === 'CANCELLED' ? 'cancelled' : 'failed';

/**
 * A failed outcome with its `retryable` flag: the one the failure carries (an agent's
 * `AgentError` knows, e.g. a 4xx from a model endpoint is not), else the platform's default.
 */
export const failedOutcome = (failure: {
  code: AgentErrorCode;
  message: string;
  retryable?: boolean | undefined;
}): RunOutcome => ({
  kind: 'failed',
  code: failure.code,
  message: failure.message,
  retryable: failure.retryable ?? isRetryableCode(failure.code),
});

/** Options of {@link reconcileRuns}. */
export interface ReconcileRunsOptions extends ReconcileOptions {
  ledger: RunLedger;
  /** Runs to leave alone: active in this process (in a cluster: owned by a live instance). */
  skip?: (run: Run) => boolean;
  /** The per-thread lock readers of a consistent snapshot take (`chat.history`). */
  locks?: KeyedMutex;
  logger?: Logger;
}

/** How many runs each reconcile action touched; `failed` counts steps that threw. */
export type ReconcileSummary = Record<ReconcileAction | 'failed', number>;

/**
 * Reconciles every listed run that `skip` leaves, one at a time, each under its thread's
 * lock. A run whose step fails is logged and left for the next pass.
 */
export async function reconcileRuns(opts: ReconcileRunsOptions): Promise<ReconcileSummary> {
  const summary: ReconcileSummary = {
    none: 0,
    emitted: 0,
    recorded: 0,
    ended: 0,
    linked: 0,
    conflict: 0,
    failed: 0,
  };
  for (const run of await opts.ledger.listRunsToReconcile()) {
    if (opts.skip?.(run)) continue;
    const step = () => opts.ledger.reconcileRun(run.id, { abandoned: opts.abandoned });
    try {
      const result = await (opts.locks ? opts.locks.run(run.threadId, step) : step());
      summary[result.action]++;
      if (result.action === 'conflict')
        opts.logger?.error(
          { run_id: run.id, detail: result.detail },
          'run and its events disagree',
        );
    } catch (err) {
      summary.failed++;
      opts.logger?.error({ err, run_id: run.id }, 'could not reconcile a run');
    }
  }
  return summary;
}
