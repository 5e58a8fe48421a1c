import type { Run } from '@tracewire/shared';
import type { AgentEventDraft, EventLog } from '../events/eventLog.js';
import type { EventBody } from './runContext.js';

/** Writes one run's events in call order and can be closed before the terminal event. */
export interface RunEmitter {
  /** Appends an event of the run; a no-op once closed (a late agent cannot write after the end). */
  emit: (body: EventBody) => Promise<void>;
  /** Stops accepting events; resolves once every accepted event is written. */
  close: () => Promise<void>;
}

/** Creates the emitter of one run: `events.append(threadId, [draft])`, chained so order is kept. */
export function createRunEmitter(events: EventLog, run: Run): RunEmitter {
  let open = true;
  let tail: Promise<unknown> = Promise.resolve();
  return {
    emit: (body) => {
      if (!open) return Promise.resolve();
      const draft: AgentEventDraft = {
        ...body,
        threadId: run.threadId,
        runId: run.id,
        ts: Date.now(),
      };
      const written = tail.then(() => events.append(run.threadId, [draft]));
      tail = written.catch(() => undefined);
      return written.then(() => undefined);
    },
    close: () => {
      open = false;
      return tail.then(() => undefined);
    },
  };
}
