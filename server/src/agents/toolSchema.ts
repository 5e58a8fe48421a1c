import { z } from 'zod';
import type { AnyToolDefinition, ToolSchema } from './types.js';

/** Schemas already converted, per tool definition (tools are module-level constants). */
const cache = new WeakMap<AnyToolDefinition, ToolSchema>();

/**
 * A tool as offered to a model: name, description and the JSON Schema of its arguments,
 * from its zod schema with `z.toJSONSchema` (draft 7, the input side; types JSON cannot
 * express become `{}`, so a schema never fails to convert). The `$schema` key is left out:
 * some OpenAI-compatible servers turn the schema into a grammar and choke on it.
 */
export function toToolSchema(tool: AnyToolDefinition): ToolSchema {
  let schema = cache.get(tool);
  if (!schema) {
    const { $schema: _ignored, ...parameters } = z.toJSONSchema(tool.args, {
      io: 'input',
      target: 'draft-7',
      unrepresentable: 'any',
    });
    schema = { name: tool.name, description: tool.description, parameters };
    cache.set(tool, schema);
  }
  return schema;
}
