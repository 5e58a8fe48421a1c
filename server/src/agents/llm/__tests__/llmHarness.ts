import type { AgentEvent, AgentEventOf, Run } from '@tracewire/shared';
import {
  startScriptedLlmServer,
  type Responder,
  type ScriptedLlmServer,
  type ScriptedReply,
} from '../../../testing/index.js';
import { createEngineHarness, type EngineHarness } from '../../__tests__/engineHarness.js';
import type { AgentDefinition } from '../../types.js';
import { calculatorTool } from '../../tools/calculator.js';
import { clockTool } from '../../tools/clock.js';
import { wordCountTool } from '../../tools/wordCount.js';
import { createLlmAgent, type LlmAgentOptions } from '../llmAgent.js';

/** The LLM agent against a scripted endpoint, in a run manager on a real SQLite file. */
export interface LlmHarness extends AsyncDisposable {
  llm: ScriptedLlmServer;
  engine: EngineHarness;
  /** Sends a message to the `llm` agent (a new thread unless `threadId` is given). */
  send(content: string, threadId?: Run['threadId']): Promise<Run>;
  /** Waits for the run's end; returns its events and the terminal one. */
  finish(run: Run): Promise<{ events: AgentEvent[]; end: AgentEvent }>;
}

/** Options: the scripted replies or responder, agent settings, extra agents or tools. */
export interface LlmHarnessOptions {
  replies?: ScriptedReply[];
  responder?: Responder;
  agent?: Partial<LlmAgentOptions>;
  runTimeoutMs?: number;
}

/** Starts the scripted endpoint and the engine; dispose with `await using`. */
export async function createLlmHarness(opts: LlmHarnessOptions = {}): Promise<LlmHarness> {
  const llm = await startScriptedLlmServer({
    ...(opts.replies ? { replies: opts.replies } : {}),
    ...(opts.responder ? { responder: opts.responder } : {}),
  });
  const agent: AgentDefinition = createLlmAgent({
    baseUrl: llm.baseUrl,
    model: 'scripted-model',
    tools: [calculatorTool, clockTool, wordCountTool],
    // Long enough that a loaded machine never turns a scripted reply into a timeout.
    timeoutMs: 10_000,
    backoff: { baseMs: 5, maxMs: 20 },
    textIntervalMs: 20,
    ...opts.agent,
  });
  const engine = await createEngineHarness({
    agents: [agent],
    config: { runTimeoutMs: opts.runTimeoutMs ?? 15_000, toolTimeoutMs: 2000 },
  });
  return {
    llm,
    engine,
    async send(content, threadId) {
      const { run } = await engine.send({
        content,
        agent: agent.name,
        ...(threadId ? { threadId } : {}),
      });
      return run;
    },
    async finish(run) {
      const end = await engine.waitForEnd(run);
      return { events: await engine.runEvents(run), end };
    },
    async [Symbol.asyncDispose]() {
      await engine[Symbol.asyncDispose]();
      await llm.close();
    },
  };
}

/** Events of one type. */
export const ofType = <T extends AgentEvent['type']>(events: AgentEvent[], type: T) =>
  events.filter((e): e is AgentEventOf<T> => e.type === type);

/** The answer as streamed: every `message_delta` joined. */
export const streamed = (events: AgentEvent[]) =>
  ofType(events, 'message_delta')
    .map((e) => e.delta)
    .join('');
