import type { Message, Run, RunId, ToolCallId, UserId } from '@tracewire/shared';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ReconcileSummary } from '../storage/runLedger.js';
import type { BreakerStats } from './circuitBreaker.js';

/** What a tool gets besides its arguments. */
export interface ToolContext {
  /** Aborted on cancel, run timeout, tool timeout or shutdown. Tools must honour it. */
  signal: AbortSignal;
  log: Logger;
  runId: RunId;
  userId: UserId;
  toolCallId: ToolCallId;
}

/** A typed tool an agent can call. Arguments are validated with `args` before `execute`. */
export interface ToolDefinition<TArgs = unknown, TResult = unknown> {
  name: string;
  description: string;
  args: z.ZodType<TArgs>;
  /** Per-call timeout; falls back to the server's tool timeout. */
  timeoutMs?: number;
  execute(args: TArgs, ctx: ToolContext): Promise<TResult>;
}

/** A tool with its types erased, as agents hold them in a list. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyToolDefinition = ToolDefinition<any, unknown>;

/** Outcome of one tool call, as the agent sees it (failures are values, not throws). */
export type ToolOutcome<TResult = unknown> =
  | { ok: true; result: TResult; durationMs: number }
  | { ok: false; error: { code: string; message: string }; durationMs: number };

/**
 * One tool call as an agent asks for it: arguments as a value, or as the JSON text a model
 * produced (`argsJson`; empty text means `{}`). Text that is not valid JSON fails the call
 * with BAD_REQUEST like any other invalid arguments.
 */
export type ToolCallRequest = { name: string; args: unknown } | { name: string; argsJson: string };

/** A tool as offered to a model: its name, description and arguments' JSON Schema. */
export interface ToolSchema {
  name: string;
  description: string;
  /** JSON Schema (draft 7, from the tool's zod `args` via `z.toJSONSchema`) of the arguments. */
  parameters: Record<string, unknown>;
}

/** Options of {@link AgentContext.textStream}. */
export interface TextStreamOptions {
  /**
   * At most one `message_delta` and one `agent_thinking` per this many ms (text arriving in
   * between is joined); the first text is sent at once.
   * @default 50
   */
  intervalMs?: number;
}

/**
 * Streams text as coalesced events: `delta` and `think` only buffer (and never throw for
 * the caller to await); events leave at most once per interval per kind, in call order (a
 * switch from thinking to answer text, or back, sends what was buffered first).
 */
export interface TextStream {
  /** Buffers answer text (`message_delta`). Throws once the run stopped or an emit failed. */
  delta(text: string): void;
  /** Buffers reasoning text (`agent_thinking`). Throws like `delta`. */
  think(text: string): void;
  /** Sends whatever is buffered now; rejects when an event could not be written. */
  flush(): Promise<void>;
}

/** The API an agent's `run` uses: every call emits the matching event. */
export interface AgentContext {
  /** The user message that started the run. */
  readonly message: Message;
  readonly run: Run;
  /** Aborted on cancel, timeout or shutdown. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Emits `agent_thinking`. */
  think(text: string): Promise<void>;
  /** Emits `message_delta`; the deltas, joined, are the final answer. */
  delta(text: string): Promise<void>;
  /** Runs a tool, emitting `tool_executing` then `tool_completed`. */
  callTool<TResult = unknown>(name: string, args: unknown): Promise<ToolOutcome<TResult>>;
  /**
   * Runs several tool calls in parallel (each with its own timeout, breaker check and
   * events, `tool_executing` in request order); resolves with their outcomes in request order.
   */
  callTools(calls: readonly ToolCallRequest[]): Promise<ToolOutcome[]>;
  /** The agent's tools with the JSON Schema of their arguments, as offered to a model. */
  readonly tools: readonly ToolSchema[];
  /**
   * The thread's messages before the one that started this run (user questions and the
   * agent's earlier answers), oldest first, at most `limit` (default 50) of the newest.
   */
  history(opts?: { limit?: number }): Promise<Message[]>;
  /** A coalescing stream for text that arrives in many small pieces (model tokens). */
  textStream(opts?: TextStreamOptions): TextStream;
  /** Abortable pause (agent pacing). */
  sleep(ms: number): Promise<void>;
  /** Configured pause between an agent's steps (`config.agent.paceMs`); 0 means no pauses. */
  readonly paceMs: number;
}

/** An agent: a name, its tools and a `run` that streams through the context. */
export interface AgentDefinition {
  name: string;
  description: string;
  tools: readonly AnyToolDefinition[];
  /**
   * Produces the answer. The final message content is the concatenation of all deltas;
   * throw (or let the signal abort) to fail the run.
   */
  run(ctx: AgentContext): Promise<void>;
}

/** Runs agents for runs created by `chat.send`; one instance per server. */
export interface RunManager {
  /** Starts a queued run in the background. The run is not tied to any connection. */
  start(run: Run, message: Message): void;
  /** Cancels an active run (ends with `agent_error` CANCELLED); an ended run is returned as is. */
  cancel(runId: RunId): Promise<Run>;
  /** Number of active runs of a user. */
  activeRunCount(userId: UserId): number;
  /** Per-tool circuit breaker state and counters (for metrics). */
  toolBreakerStats(): Record<string, BreakerStats>;
  /**
   * Crash recovery at start: brings the record and the events of every run not active here
   * into agreement (`reconcileRuns`): a finished run missing its terminal event gets it, a
   * terminal event whose record is unfinished finishes the record, and a run left queued or
   * running without one ends with `SHUTDOWN`. Never writes a second terminal event.
   */
  reconcile(): Promise<ReconcileSummary>;
  /** Stops accepting runs, lets active ones finish within `graceMs`, ends the rest with SHUTDOWN. */
  shutdown(graceMs: number): Promise<void>;
}
