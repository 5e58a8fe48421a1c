import { AppError } from '@tracewire/shared';
import type { RunId, ToolCallId, UserId } from '@tracewire/shared';
import type { Logger } from 'pino';
import { RunStoppedError, isRunStoppedError, raceAbort } from './abort.js';
import { countsAsFailure, type CircuitBreaker } from './circuitBreaker.js';
import type { AnyToolDefinition, ToolOutcome } from './types.js';

/** One tool call to execute. */
export interface ToolCall {
  /** The tool, or undefined when the agent asked for one it does not have. */
  tool: AnyToolDefinition | undefined;
  name: string;
  args: unknown;
  /** Set when the arguments could not be read at all (e.g. not valid JSON): the call fails. */
  argsError?: string | undefined;
  toolCallId: ToolCallId;
  runId: RunId;
  userId: UserId;
  /** The run's signal; aborting it aborts the call. */
  signal: AbortSignal;
  timeoutMs: number;
  log: Logger;
  /** The tool's circuit breaker (per tool per server); none = never fail fast. */
  breaker?: CircuitBreaker | undefined;
}

/** Error code of a call refused because the tool's circuit breaker is open. */
export const CIRCUIT_OPEN = 'CIRCUIT_OPEN';

/** Feeds a finished call to the breaker; returns what the message should add about it. */
function recordOutcome(call: ToolCall, code: string | null): string {
  const { breaker } = call;
  if (!breaker) return '';
  // A run stopped from outside (cancel, run timeout, shutdown) says nothing about the tool.
  const result =
    code === null
      ? 'success'
      : call.signal.aborted || !countsAsFailure(code)
        ? 'neutral'
        : 'failure';
  const change = breaker.record(result);
  if (change === 'opened')
    return `; circuit breaker for "${call.name}" opened after ${breaker.consecutiveFailures} consecutive failures (calls fail fast with ${CIRCUIT_OPEN} for ${breaker.cooldownMs} ms)`;
  if (change === 'reopened')
    return `; circuit breaker for "${call.name}" re-opened: the probe call failed (calls fail fast for ${breaker.cooldownMs} ms)`;
  return '';
}

/** Maps anything a tool threw to the `{ code, message }` that goes into `tool_completed`. */
export function toToolError(error: unknown): { code: string; message: string } {
  if (isRunStoppedError(error)) return { code: error.code, message: error.message };
  const appError = AppError.from(error);
  return { code: appError.code, message: appError.message };
}

function describeIssues(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}) {
  return error.issues
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/**
 * Validates the arguments and runs the tool under its own timeout combined with the run's
 * signal. Never throws: unknown tools, invalid arguments, tool errors, timeouts and aborts
 * are all failed outcomes. The timeout wins even when the tool ignores its signal.
 */
export async function executeTool(call: ToolCall): Promise<ToolOutcome> {
  const startedAt = performance.now();
  const elapsed = () => Math.round((performance.now() - startedAt) * 1000) / 1000;
  const fail = (code: string, message: string): ToolOutcome => ({
    ok: false,
    error: { code, message },
    durationMs: elapsed(),
  });

  const { tool } = call;
  if (!tool) return fail('NOT_FOUND', `Unknown tool "${call.name}"`);
  if (call.argsError !== undefined)
    return fail('BAD_REQUEST', `Invalid arguments for tool "${call.name}": ${call.argsError}`);
  const parsed = tool.args.safeParse(call.args);
  if (!parsed.success) {
    return fail(
      'BAD_REQUEST',
      `Invalid arguments for tool "${call.name}": ${describeIssues(parsed.error)}`,
    );
  }

  const admission = call.breaker?.admit() ?? { ok: true };
  if (!admission.ok) {
    return fail(
      CIRCUIT_OPEN,
      `Tool "${call.name}" is failing fast: circuit breaker open after ${admission.failures} consecutive failures; next attempt in ${admission.retryAfterMs} ms`,
    );
  }

  const controller = new AbortController();
  const onRunAbort = () => controller.abort(call.signal.reason);
  if (call.signal.aborted) onRunAbort();
  else call.signal.addEventListener('abort', onRunAbort, { once: true });
  const timer = setTimeout(() => {
    controller.abort(
      new RunStoppedError('TIMEOUT', `Tool "${call.name}" timed out after ${call.timeoutMs} ms`),
    );
  }, call.timeoutMs);

  try {
    const log = call.log.child({ tool: call.name, tool_call_id: call.toolCallId });
    const execution = Promise.resolve().then(() =>
      tool.execute(parsed.data, {
        signal: controller.signal,
        log,
        runId: call.runId,
        userId: call.userId,
        toolCallId: call.toolCallId,
      }),
    );
    const result = await raceAbort(execution, controller.signal);
    recordOutcome(call, null);
    return { ok: true, result, durationMs: elapsed() };
  } catch (error) {
    const { code, message } = toToolError(error);
    call.log.debug({ tool: call.name, code, err: error }, 'tool call failed');
    const breakerNote = recordOutcome(call, code);
    if (breakerNote)
      call.log.warn(
        { tool: call.name, code, breaker: call.breaker?.state },
        'circuit breaker changed',
      );
    return fail(code, message + breakerNote);
  } finally {
    clearTimeout(timer);
    call.signal.removeEventListener('abort', onRunAbort);
  }
}
