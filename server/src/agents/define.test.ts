import { AppError } from '@tracewire/shared';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import { createTestToolContext } from './__tests__/toolContext.js';
import { createDemoAgent, demoAgent } from './demoAgent.js';
import { defineAgent, defineTool } from './define.js';
import { createAgentRegistry } from './registry.js';
import type { ToolContext, ToolDefinition } from './types.js';

describe('defineTool', () => {
  test('infers argument and result types from the schema and execute', async () => {
    const greet = defineTool({
      name: 'greet',
      description: 'Greets',
      args: z.object({ name: z.string(), times: z.number().int().default(1) }),
      execute: ({ name, times }) => Promise.resolve({ text: `hello ${name}`.repeat(times) }),
    });
    expectTypeOf(greet).toEqualTypeOf<
      ToolDefinition<{ name: string; times: number }, { text: string }>
    >();
    expectTypeOf<Parameters<typeof greet.execute>[1]>().toEqualTypeOf<ToolContext>();
    const result = await greet.execute({ name: 'ada', times: 2 }, createTestToolContext());
    expect(result).toEqual({ text: 'hello adahello ada' });
    expect(greet.args.parse({ name: 'x' })).toEqual({ name: 'x', times: 1 });
  });
});

describe('defineAgent', () => {
  test('returns the agent unchanged, keeping its literal name', () => {
    const agent = defineAgent({
      name: 'echo',
      description: 'Echoes',
      tools: [],
      run: () => Promise.resolve(),
    });
    expectTypeOf(agent.name).toEqualTypeOf<'echo'>();
    expect(agent.name).toBe('echo');
  });
});

describe('createAgentRegistry', () => {
  test('finds agents by name and lists them', () => {
    const registry = createAgentRegistry([demoAgent]);
    expect(registry.get('demo')).toBe(demoAgent);
    expect(registry.has('demo')).toBe(true);
    expect(registry.has('other')).toBe(false);
    expect(registry.list()).toEqual([demoAgent]);
  });

  test('throws AppError NOT_FOUND for an unknown agent', () => {
    const registry = createAgentRegistry([demoAgent]);
    expect(() => registry.get('nope')).toThrow(AppError);
    try {
      registry.get('nope');
    } catch (error) {
      expect(AppError.is(error) && error.code).toBe('NOT_FOUND');
    }
  });

  test('refuses duplicate agent names', () => {
    expect(() => createAgentRegistry([demoAgent, createDemoAgent()])).toThrow(
      'Duplicate agent name "demo"',
    );
  });
});
