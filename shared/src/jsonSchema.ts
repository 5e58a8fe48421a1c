import { z } from 'zod';
import { CallMetaSchema } from './api.js';
import { PROCEDURES, type ProcedureContract } from './procedures.js';

/** The draft every generated file declares. */
const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

/** Where the generated files live, relative to the repository root, and how to remake them. */
export const SCHEMA_DIR = 'shared/schema';
export const SCHEMA_COMMAND = 'npm run schema';

/** zod types superjson carries in `meta` only: the JSON part alone cannot describe them. */
const UNREPRESENTABLE = new Set(['bigint', 'symbol', 'map', 'set', 'function', 'custom', 'nan']);

/**
 * zod → JSON Schema for the wire: superjson's `json` part. Dates travel there as ISO strings
 * (`format: date-time`); objects are open (`additionalProperties` is not set: the server may
 * add fields, clients ignore the ones they do not know).
 */
function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    // Dates are handled below; anything else without a JSON form fails the build.
    unrepresentable: 'any',
    override: (ctx) => {
      const def = (ctx.zodSchema as { _zod: { def: { type: string } } })._zod.def;
      if (UNREPRESENTABLE.has(def.type)) {
        throw new TypeError(
          `a ${def.type} schema has no JSON form: the wire contract cannot use it`,
        );
      }
      if (def.type === 'date') {
        ctx.jsonSchema.type = 'string';
        ctx.jsonSchema.format = 'date-time';
      }
      if (ctx.jsonSchema.additionalProperties === false) delete ctx.jsonSchema.additionalProperties;
    },
  });
}

/** An input schema with the reserved `_meta` field every procedure accepts. */
function withMeta(input: Record<string, unknown>): Record<string, unknown> {
  const properties = (input['properties'] ?? {}) as Record<string, unknown>;
  const { $schema: _drop, ...meta } = toJsonSchema(CallMetaSchema, 'input');
  return {
    ...input,
    properties: {
      ...properties,
      _meta: {
        ...meta,
        description:
          'Per-call metadata (request id, W3C trace context); stripped by the server before validation, never identity.',
      },
    },
  };
}

const document = (
  title: string,
  description: string,
  body: Record<string, unknown>,
): Record<string, unknown> => {
  const { $schema: _drop, ...rest } = body;
  return { $schema: DRAFT, title, description, ...rest };
};

const pretty = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Every generated file, by name: for each procedure `<path>.input.json` and
 * `<path>.output.json` (for `agent.events`: one stream item), `events.json` (the event union
 * alone) and `index.json` (procedure → kind and file names). Deterministic, so the committed
 * copy can be compared with a fresh one.
 */
export function createJsonSchemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const index: Record<string, unknown> = {};
  for (const [path, contract] of Object.entries(PROCEDURES) as [string, ProcedureContract][]) {
    const inputFile = `${path}.input.json`;
    const outputFile = `${path}.output.json`;
    files.set(
      inputFile,
      pretty(
        document(
          `${path} input`,
          `Input of ${path} (superjson's json part). ${contract.description}`,
          withMeta(toJsonSchema(contract.input, 'input')),
        ),
      ),
    );
    files.set(
      outputFile,
      pretty(
        document(
          contract.type === 'subscription' ? `${path} item` : `${path} output`,
          `${contract.type === 'subscription' ? 'One item' : 'Output'} of ${path} (superjson's json part).`,
          toJsonSchema(contract.output, 'output'),
        ),
      ),
    );
    index[path] = { type: contract.type, input: inputFile, output: outputFile };
  }
  files.set(
    'events.json',
    pretty(
      document(
        'StreamEvent',
        'What agent.events yields: the agent events and the resync / stream_position control events, discriminated on type.',
        toJsonSchema(PROCEDURES['agent.events'].output, 'output'),
      ),
    ),
  );
  files.set(
    'index.json',
    pretty({
      description:
        'Tracewire procedures: HTTP at /trpc/<path> and WebSocket at /trpc (tRPC v11 protocol), every payload wrapped by superjson as { json, meta? }. These schemas describe the json part; Dates are ISO 8601 strings there (format date-time).',
      procedures: index,
      events: 'events.json',
    }),
  );
  return files;
}
