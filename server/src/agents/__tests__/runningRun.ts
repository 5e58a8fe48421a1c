import { createMessageId, createRunId, createThreadId } from '@tracewire/shared';
import type { Run, UserId } from '@tracewire/shared';

/** A run record as the run manager holds it once started (for code that takes a `Run`). */
export function runningRun(threadId = createThreadId(), userId = 'u1'): Run {
  return {
    id: createRunId(),
    threadId,
    userId: userId as UserId,
    messageId: createMessageId(),
    agent: 'demo',
    status: 'running',
    error: null,
    createdAt: new Date(),
    startedAt: new Date(),
    endedAt: null,
    durationMs: null,
  };
}
