import {
  AppError,
  type Run,
  type RunId,
  type Thread,
  type ThreadId,
  type UserId,
} from '@tracewire/shared';
import type { ChatStore } from './storage/chatStore.js';

/**
 * The one ownership check. Another user's thread or run is indistinguishable from a
 * missing one (NOT_FOUND), so ids cannot be probed.
 */
export interface Access {
  thread(userId: UserId, threadId: ThreadId): Promise<Thread>;
  run(userId: UserId, runId: RunId): Promise<Run>;
}

/** Creates the ownership checker over a store. */
export function createAccess(store: ChatStore): Access {
  return {
    async thread(userId, threadId) {
      const thread = await store.getThread(threadId);
      if (!thread || thread.userId !== userId) throw new AppError('NOT_FOUND', 'thread not found');
      return thread;
    },
    async run(userId, runId) {
      const run = await store.getRun(runId);
      if (!run || run.userId !== userId) throw new AppError('NOT_FOUND', 'run not found');
      return run;
    },
  };
}
