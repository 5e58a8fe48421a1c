/**
 * @module
 * The agent engine: typed agent and tool definitions, the built-in demo agent and tools,
 * the agent registry and the run manager (timeouts, cancellation, shutdown, recovery).
 */
export { defineAgent, defineTool } from './define.js';
export type { ToolSpec } from './define.js';
export { createAgentRegistry } from './registry.js';
export type { AgentRegistry } from './registry.js';
export { createRunManager } from './runManager.js';
export type { RunManagerOptions } from './runManager.js';
export { createDemoAgent, demoAgent } from './demoAgent.js';
export { findExpression } from './expressionFinder.js';
export { createLlmAgent, DEFAULT_SYSTEM_PROMPT } from './llm/llmAgent.js';
export type { LlmAgentOptions } from './llm/llmAgent.js';
export type { DemoAgentOptions } from './demoAgent.js';
export { calculatorTool } from './tools/calculator.js';
export { clockTool } from './tools/clock.js';
export { wordCountTool } from './tools/wordCount.js';
export { alwaysFailsTool } from './tools/alwaysFails.js';
export { evaluateExpression, MAX_EXPRESSION_LENGTH } from './tools/expression.js';
export { RunStoppedError, isRunStoppedError } from './abort.js';
export { AgentError, isAgentError } from './agentError.js';
export { toToolSchema } from './toolSchema.js';
export type { StopCode } from './abort.js';
export type {
  AgentContext,
  AgentDefinition,
  AnyToolDefinition,
  RunManager,
  TextStream,
  TextStreamOptions,
  ToolCallRequest,
  ToolContext,
  ToolDefinition,
  ToolOutcome,
  ToolSchema,
} from './types.js';
export {
  createCircuitBreakerRegistry,
  countsAsFailure,
  DEFAULT_BREAKER,
} from './circuitBreaker.js';
export type {
  BreakerOptions,
  BreakerState,
  BreakerStats,
  CircuitBreakerRegistry,
} from './circuitBreaker.js';
export { CIRCUIT_OPEN } from './toolRunner.js';
