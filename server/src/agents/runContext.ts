import { recordSpanError, withToolSpan, type TracewireMetrics } from '@tracewire/otel';
import { createToolCallId } from '@tracewire/shared';
import type { Message, Run } from '@tracewire/shared';
import type { Logger } from 'pino';
import type { AgentEventDraft } from '../events/eventLog.js';
import { abortableSleep } from './abort.js';
import type { CircuitBreakerRegistry } from './circuitBreaker.js';
import { createTextStream } from './textStream.js';
import { executeTool } from './toolRunner.js';
import { toToolSchema } from './toolSchema.js';
import type { AgentContext, AgentDefinition, ToolCallRequest, ToolOutcome } from './types.js';

/** An event body as the context produces it; the emitter adds thread, run and time. */
export type EventBody = AgentEventDraft extends infer D
  ? D extends AgentEventDraft
    ? Omit<D, 'threadId' | 'runId' | 'ts'>
    : never
  : never;

/** What {@link createRunContext} needs. */
export interface RunContextOptions {
  run: Run;
  message: Message;
  agent: AgentDefinition;
  signal: AbortSignal;
  log: Logger;
  paceMs: number;
  /** Fallback per-call timeout for tools without their own `timeoutMs`. */
  toolTimeoutMs: number;
  /** Writes one event of this run (in call order). */
  emit: (body: EventBody) => Promise<void>;
  /** Tool duration and failure instruments. */
  metrics?: TracewireMetrics | undefined;
  /** Per-tool circuit breakers of the server; none = no breaking. */
  breakers?: CircuitBreakerRegistry | undefined;
  /** The thread's last `limit` messages before the run's message, oldest first. */
  history: (limit: number) => Promise<Message[]>;
}

/** Messages `ctx.history()` returns when the agent does not say. */
const DEFAULT_HISTORY_LIMIT = 50;
/** Interval of `ctx.textStream()` when the agent does not say. */
const DEFAULT_TEXT_INTERVAL_MS = 50;

/** Arguments of a request, or why they cannot be read (model-written JSON text). */
function readArgs(call: ToolCallRequest): { args: unknown; argsError?: string } {
  if (!('argsJson' in call)) return { args: call.args };
  const text = call.argsJson.trim();
  if (text === '') return { args: {} };
  try {
    return { args: JSON.parse(text) as unknown };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { args: call.argsJson, argsError: `not valid JSON (${reason})` };
  }
}

/** The context plus what the run manager reads back when the agent returns. */
export interface RunContextHandle {
  ctx: AgentContext;
  /** The answer so far: all deltas joined. */
  answer(): string;
  /** Number of tool calls of this run that failed. */
  toolFailures(): number;
}

/**
 * Builds the {@link AgentContext} an agent runs with: every call emits its event, tools
 * run through {@link executeTool} (failures are values), and pauses honour the run's signal.
 * Transport-free, so tests can drive an agent with a collecting `emit`.
 */
export function createRunContext(opts: RunContextOptions): RunContextHandle {
  const { run, signal } = opts;
  const parts: string[] = [];
  let failures = 0;
  const toolsByName = new Map(opts.agent.tools.map((tool) => [tool.name, tool]));

  const ctx: AgentContext = {
    message: opts.message,
    run,
    signal,
    log: opts.log,
    paceMs: opts.paceMs,
    // Not async functions: an agent streams these per token, and an async wrapper would add
    // a promise (and an await) to each on top of the one `emit` shares between events.
    think(text) {
      if (signal.aborted) return Promise.reject(signal.reason as Error);
      return opts.emit({ type: 'agent_thinking', text });
    },
    delta(text) {
      if (signal.aborted) return Promise.reject(signal.reason as Error);
      parts.push(text);
      return opts.emit({ type: 'message_delta', delta: text });
    },
    async callTool<TResult = unknown>(name: string, args: unknown): Promise<ToolOutcome<TResult>> {
      // The tool's result type is the caller's claim, as with any dynamically named call.
      return (await runTool({ name, args })) as ToolOutcome<TResult>;
    },
    callTools: (calls) => Promise.all(calls.map(runTool)),
    tools: opts.agent.tools.map(toToolSchema),
    history: (o = {}) => opts.history(Math.max(1, Math.floor(o.limit ?? DEFAULT_HISTORY_LIMIT))),
    textStream: (o = {}) =>
      createTextStream({
        delta: (text) => ctx.delta(text),
        think: (text) => ctx.think(text),
        signal,
        intervalMs: o.intervalMs ?? DEFAULT_TEXT_INTERVAL_MS,
      }),
    sleep: (ms) => abortableSleep(ms, signal),
  };

  /** One tool call: `tool_executing`, the run in its span, metrics, `tool_completed`. */
  async function runTool(request: ToolCallRequest): Promise<ToolOutcome> {
    const { name } = request;
    const { args, argsError } = readArgs(request);
    const toolCallId = createToolCallId();
    const tool = toolsByName.get(name);
    // Emitted before the first await, so parallel calls announce themselves in request order.
    await opts.emit({ type: 'tool_executing', toolCallId, tool: name, args });
    // One `execute_tool` span per call; the tool's own spans nest under it.
    const outcome = await withToolSpan(name, toolCallId, async (span) => {
      const result = await executeTool({
        tool,
        name,
        args,
        argsError,
        toolCallId,
        runId: run.id,
        userId: run.userId,
        signal,
        timeoutMs: tool?.timeoutMs ?? opts.toolTimeoutMs,
        log: opts.log,
        breaker: tool ? opts.breakers?.forTool(name) : undefined,
      });
      if (!result.ok)
        recordSpanError(
          span,
          Object.assign(new Error(result.error.message), { code: result.error.code }),
        );
      return result;
    });
    opts.metrics?.toolDuration.record(outcome.durationMs / 1000, { 'gen_ai.tool.name': name });
    if (!outcome.ok) {
      opts.metrics?.toolFailures.add(1, {
        'gen_ai.tool.name': name,
        'error.type': outcome.error.code,
      });
    }
    if (outcome.ok) {
      await opts.emit({
        type: 'tool_completed',
        toolCallId,
        tool: name,
        ok: true,
        result: outcome.result,
        durationMs: outcome.durationMs,
      });
    } else {
      failures++;
      await opts.emit({
        type: 'tool_completed',
        toolCallId,
        tool: name,
        ok: false,
        error: outcome.error,
        durationMs: outcome.durationMs,
      });
    }
    return outcome;
  }

  return { ctx, answer: () => parts.join(''), toolFailures: () => failures };
}
