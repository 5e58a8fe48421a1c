import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { createJsonSchemaFiles, SCHEMA_COMMAND } from './jsonSchema.js';
import { PROCEDURES } from './procedures.js';

const dir = fileURLToPath(new URL('../schema/', import.meta.url));

describe('the published JSON Schema (shared/schema/)', () => {
  test('matches what the zod contract generates today', () => {
    const fresh = createJsonSchemaFiles();
    const committed = readdirSync(dir).filter((f) => f.endsWith('.json'));
    const stale = [...fresh.keys()].filter(
      (name) =>
        !committed.includes(name) || readFileSync(`${dir}${name}`, 'utf8') !== fresh.get(name),
    );
    const extra = committed.filter((name) => !fresh.has(name));
    expect(
      { differ: stale, notGenerated: extra },
      `shared/schema/ is out of date with the zod schemas: run \`${SCHEMA_COMMAND}\` and commit the result`,
    ).toEqual({ differ: [], notGenerated: [] });
  });

  test('declares draft 2020-12 and describes dates as date-time strings', () => {
    const files = createJsonSchemaFiles();
    const thread = JSON.parse(files.get('chat.createThread.output.json')!);
    expect(thread.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(thread.properties.createdAt).toEqual({ type: 'string', format: 'date-time' });
    expect(thread.required).toEqual(expect.arrayContaining(['id', 'lastEventId', 'createdAt']));
    const index = JSON.parse(files.get('index.json')!);
    expect(Object.keys(index.procedures).sort()).toEqual(Object.keys(PROCEDURES).sort());
  });

  test('the event union narrows tool_completed on ok and lists every event type', () => {
    const events = JSON.parse(createJsonSchemaFiles().get('events.json')!);
    const variants: { properties: Record<string, { const?: unknown }>; required: string[] }[] =
      events.oneOf.flatMap((v: { oneOf?: unknown[] }) => v.oneOf ?? [v]);
    const types = variants.map((v) => v.properties['type']?.const);
    expect(new Set(types)).toEqual(
      new Set([
        'agent_started',
        'agent_thinking',
        'message_delta',
        'tool_executing',
        'tool_completed',
        'agent_completed',
        'agent_error',
        'resync',
        'stream_position',
      ]),
    );
    const tools = variants.filter((v) => v.properties['type']?.const === 'tool_completed');
    expect(tools.map((v) => v.properties['ok']?.const)).toEqual([true, false]);
    expect(tools[1]!.required).toContain('error');
  });
});
