import { describe, expect, test } from 'vitest';
import { AGENT_ERROR_CODES, AgentEventSchema } from './events.js';
import { createRunId, createThreadId } from './ids.js';

describe('agent error codes', () => {
  test('accept INSTANCE_LOST, the code of a run ended by a surviving instance', () => {
    expect(AGENT_ERROR_CODES).toContain('INSTANCE_LOST');
    const event = {
      type: 'agent_error',
      threadId: createThreadId(),
      runId: createRunId(),
      epoch: 'e1',
      seq: 3,
      ts: Date.now(),
      code: 'INSTANCE_LOST',
      message: 'the instance running this run stopped; send the message again',
      retryable: true,
    };
    expect(AgentEventSchema.parse(event)).toEqual(event);
    expect(() => AgentEventSchema.parse({ ...event, code: 'NOT_A_CODE' })).toThrow();
  });
});
