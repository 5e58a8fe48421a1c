import { metrics as metricsApi, type Meter, type MeterProvider } from '@opentelemetry/api';
import { createTracewireMetrics } from '@tracewire/otel';
import type { Logger } from 'pino';
import { demoAgent } from './agents/demoAgent.js';
import { createLlmAgent } from './agents/llm/llmAgent.js';
import { calculatorTool } from './agents/tools/calculator.js';
import { clockTool } from './agents/tools/clock.js';
import { wordCountTool } from './agents/tools/wordCount.js';
import { createAgentRegistry } from './agents/registry.js';
import { createRunManager } from './agents/runManager.js';
import type { AgentDefinition } from './agents/types.js';
import { createAuthenticator } from './auth/tokens.js';
import type { Config } from './config.js';
import type { Services } from './services.js';
import { openBackends } from './backends.js';
import type { RetentionOptions } from './storage/sqlite/index.js';
import { createTransport, type Transport } from './transport/server.js';
import type { ChatStore } from './storage/chatStore.js';
import { traceMethods } from './telemetry/traceMethods.js';
import { createKeyedMutex } from './util/keyedMutex.js';

/** Options for {@link createTracewire}. */
export interface CreateTracewireOptions {
  config: Config;
  logger: Logger;
  /**
   * Agents to serve; the first is the default. Defaults to the LLM agent then the demo agent
   * when `config.llm` is set, else the demo agent alone.
   */
  agents?: readonly AgentDefinition[];
  /** Event retention (by count and age); from config by default. */
  retention?: RetentionOptions;
  /** Prometheus text for `/metrics`. */
  renderMetrics?: () => Promise<string>;
  /** Where instruments are created; the global meter provider by default. */
  meterProvider?: MeterProvider;
}

/** A started Tracewire server. */
export interface TracewireServer {
  readonly url: string;
  readonly port: number;
  readonly services: Services;
  readonly transport: Transport;
  /**
   * Graceful stop: stop accepting, let runs finish within the grace period (the rest end
   * with SHUTDOWN), tell WS clients to reconnect, close the store. Idempotent.
   */
  stop(): Promise<void>;
}

/**
 * Builds services and starts listening: on the embedded default (SQLite file, in-process
 * fan-out), or on PostgreSQL + Redis when `config.cluster` is set.
 */
export async function createTracewire(opts: CreateTracewireOptions): Promise<TracewireServer> {
  const { config, logger } = opts;
  const storage = await openBackends({
    config,
    logger,
    retention: opts.retention ?? retentionFromConfig(config),
  });
  // Store and event-log operations show as child spans of the call or run that made them.
  // Appends are timed by each event's PRODUCER span (it ends when the append commits).
  const store = traceMethods(storage.store, {
    component: 'chat_store',
    methods: CHAT_STORE_METHODS,
    attributes: { 'db.system.name': storage.systems.store },
  });
  const events = traceMethods(storage.events, {
    component: 'event_log',
    methods: ['read', 'head'],
    attributes: { 'db.system.name': storage.systems.events },
  });
  const meter = (opts.meterProvider ?? metricsApi.getMeterProvider()).getMeter('@tracewire/server');
  const agentList = opts.agents ?? defaultAgents(config, meter);
  const agents = createAgentRegistry(agentList);
  const locks = createKeyedMutex();
  const metrics = createTracewireMetrics(meter);
  const ledger = traceMethods(storage.ledger, {
    component: 'run_ledger',
    methods: ['finishRun', 'reconcileRun'],
    attributes: { 'db.system.name': storage.systems.store },
  });
  const runs = createRunManager({
    store,
    events,
    ledger,
    agents,
    config: config.agent,
    logger,
    locks,
    metrics,
  });
  const services: Services = {
    config,
    logger,
    auth: createAuthenticator(config.auth),
    store,
    events,
    agents,
    runs,
    locks,
    metrics,
    defaultAgent: agentList[0]?.name ?? 'demo',
  };
  await runs.reconcile();
  const transport = createTransport({
    services,
    ...(opts.renderMetrics ? { renderMetrics: opts.renderMetrics } : {}),
  });
  const { url, port } = await transport.listen();

  let stopped: Promise<void> | null = null;
  const stop = () =>
    (stopped ??= (async () => {
      logger.info('stopping: no new connections');
      transport.stopAccepting();
      await runs.shutdown(config.shutdownGraceMs);
      await transport.closeConnections();
      await storage.close();
      logger.info('stopped');
    })());

  return { url, port, services, transport, stop };
}

/** ChatStore methods that get a span (all but ping/close). */
const CHAT_STORE_METHODS = [
  'createThread',
  'countThreads',
  'getThread',
  'listThreads',
  'createMessageAndRun',
  'appendAssistantMessage',
  'getMessage',
  'listMessages',
  'recentMessages',
  'getRun',
  'updateRun',
  'listUnfinishedRuns',
] as const satisfies readonly (keyof ChatStore)[];

/** The tools the LLM agent offers by default: the demo's, less its always-failing one. */
export const DEFAULT_LLM_TOOLS = [calculatorTool, clockTool, wordCountTool] as const;

/** `npm start`'s agents: with `config.llm`, the LLM agent (the default) then the demo agent. */
function defaultAgents(config: Config, meter: Meter): AgentDefinition[] {
  const llm = config.llm;
  if (!llm) return [demoAgent];
  const agent = createLlmAgent({
    baseUrl: llm.baseUrl,
    model: llm.model,
    apiKey: llm.apiKey?.reveal(),
    tools: DEFAULT_LLM_TOOLS,
    maxSteps: llm.maxSteps,
    maxTokens: llm.maxTokens,
    temperature: llm.temperature,
    timeoutMs: llm.timeoutMs,
    retries: llm.retries,
    retryAfterMaxMs: llm.retryAfterMaxMs,
    requestUsage: llm.requestUsage,
    recordContent: llm.recordContent,
    systemPrompt: llm.systemPrompt,
    meter,
  });
  return [agent, demoAgent];
}

/** Config's retention with 0 meaning "no limit". */
function retentionFromConfig(config: Config): RetentionOptions {
  const { maxEventsPerThread, maxAgeMs } = config.retention;
  return {
    ...(maxEventsPerThread > 0 ? { maxEventsPerThread } : {}),
    ...(maxAgeMs > 0 ? { maxAgeMs } : {}),
  };
}
