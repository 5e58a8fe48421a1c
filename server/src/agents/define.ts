import type { z } from 'zod';
import type { AgentDefinition, ToolContext, ToolDefinition } from './types.js';

/** What {@link defineTool} takes: the argument type comes from the zod schema. */
export interface ToolSpec<TSchema extends z.ZodType, TResult> {
  name: string;
  description: string;
  args: TSchema;
  timeoutMs?: number;
  execute(args: z.output<TSchema>, ctx: ToolContext): Promise<TResult>;
}

/**
 * Declares a tool with its argument type inferred from the `args` schema and its result
 * type from `execute`, so agents and tests see precise types without annotations.
 *
 * @example
 * const echo = defineTool({
 *   name: 'echo',
 *   description: 'Returns its input',
 *   args: z.object({ text: z.string() }),
 *   execute: async ({ text }) => ({ text }),
 * });
 */
export function defineTool<TSchema extends z.ZodType, TResult>(
  spec: ToolSpec<TSchema, TResult>,
): ToolDefinition<z.output<TSchema>, TResult> {
  // The schema's output type is exactly what `execute` receives; zod's generics just do not
  // let TypeScript prove `TSchema extends ZodType<output<TSchema>>` on its own.
  return spec as unknown as ToolDefinition<z.output<TSchema>, TResult>;
}

/** Declares an agent; an identity function that checks the shape and keeps literal types. */
export function defineAgent<const TAgent extends AgentDefinition>(agent: TAgent): TAgent {
  return agent;
}
