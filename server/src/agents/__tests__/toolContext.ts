import { createRunId, createToolCallId } from '@tracewire/shared';
import type { UserId } from '@tracewire/shared';
import { pino } from 'pino';
import type { ToolContext } from '../types.js';

/** A real tool context for calling a tool directly in a test. */
export function createTestToolContext(
  signal: AbortSignal = new AbortController().signal,
): ToolContext {
  return {
    signal,
    log: pino({ level: 'silent' }),
    runId: createRunId(),
    userId: 'test-user' as UserId,
    toolCallId: createToolCallId(),
  };
}
