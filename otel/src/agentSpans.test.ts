import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, describe, expect, test } from 'vitest';
import { createTestProvider, isChildOf, useGlobalTracing } from './__tests__/testTracing.js';
import { withAgentSpan, withToolSpan } from './agentSpans.js';

const t = createTestProvider('agent-test');
const globals = useGlobalTracing(t.provider);
afterAll(() => globals[Symbol.dispose]());

describe('agent and tool spans', () => {
  test('nests execute_tool under invoke_agent with GenAI attributes and returns the result', async () => {
    const result = await withAgentSpan(
      'demo',
      () => withToolSpan('calculator', 'call-1', () => 42),
      { attributes: { 'gen_ai.conversation.id': 'thr_1' } },
    );
    expect(result).toBe(42);
    const agent = t.one('invoke_agent demo');
    const tool = t.one('execute_tool calculator');
    expect(agent.kind).toBe(SpanKind.INTERNAL);
    expect(agent.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'demo',
      'gen_ai.conversation.id': 'thr_1',
    });
    expect(tool.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'calculator',
      'gen_ai.tool.call.id': 'call-1',
    });
    expect(isChildOf(tool, agent)).toBe(true);
  });

  test('records a failing tool as an error with error.type and rethrows', async () => {
    const failure = Object.assign(new Error('division by zero'), { code: 'TOOL_FAILED' });
    await expect(withToolSpan('div', 'call-2', () => Promise.reject(failure))).rejects.toBe(
      failure,
    );
    const tool = t.one('execute_tool div');
    expect(tool.status.code).toBe(SpanStatusCode.ERROR);
    expect(tool.attributes['error.type']).toBe('TOOL_FAILED');
    expect(tool.events.some((e) => e.name === 'exception')).toBe(true);
  });
});
