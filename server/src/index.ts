/**
 * @module
 * The Tracewire server: create it with {@link createTracewire}; `AppRouter` is the type the
 * client SDK is generated from.
 */
export { appRouter } from './routers/index.js';
export type { AppRouter } from './routers/index.js';
export { createTracewire, DEFAULT_LLM_TOOLS } from './app.js';
export type { CreateTracewireOptions, TracewireServer } from './app.js';
export {
  loadConfig,
  configVariables,
  ConfigError,
  CONFIG_VARIABLES,
  DEV_AUTH_SECRET,
} from './config.js';
export type { Config, ConfigVariable } from './config.js';
export { createLogger } from './logger.js';
export { createAuthenticator, signToken } from './auth/tokens.js';
export type { Authenticator, Principal, SignTokenOptions } from './auth/tokens.js';
export { createServiceCaller } from './internalCaller.js';
export type { ServiceCallerOptions } from './internalCaller.js';
export type { Services } from './services.js';
export type { ChatStore } from './storage/chatStore.js';
export type { RunLedger } from './storage/runLedger.js';
export type { EventLog, StreamHead, AgentEventDraft } from './events/eventLog.js';
export { openPostgresStore } from './storage/postgres/index.js';
export type { PostgresStore, PostgresStoreOptions } from './storage/postgres/index.js';
export { openRedisEventLog, RedisEventLog } from './events/redis/index.js';
export type { OpenRedisEventLogOptions } from './events/redis/index.js';
export {
  openClusterCoordinator,
  createClusterSlots,
  createClusterTokenBuckets,
} from './cluster/index.js';
export type { ClusterCoordinator, Lease, OrphanedRun } from './cluster/index.js';
export type {
  AgentDefinition,
  ToolDefinition,
  AgentContext,
  RunManager,
  TextStream,
  TextStreamOptions,
  ToolCallRequest,
  ToolSchema,
} from './agents/types.js';
export {
  AgentError,
  calculatorTool,
  clockTool,
  createLlmAgent,
  defineAgent,
  defineTool,
  demoAgent,
  isAgentError,
  wordCountTool,
} from './agents/index.js';
export type { LlmAgentOptions } from './agents/index.js';
