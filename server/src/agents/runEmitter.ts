import { startProducerSpan, recordSpanError } from '@tracewire/otel';
import type { Run } from '@tracewire/shared';
import type { AgentEventDraft, EventLog } from '../events/eventLog.js';
import type { EventBody } from './runContext.js';

/** Writes one run's events in call order and can be closed before the terminal event. */
export interface RunEmitter {
  /**
   * Appends an event of the run; a no-op once closed (a late agent cannot write after the
   * end). Resolves as soon as the log has accepted (numbered) the event, not when it is
   * committed: the log commits in order, in batches. A failed write makes the next emit reject.
   */
  emit: (body: EventBody) => Promise<void>;
  /** Resolves once every event accepted so far is committed and handed to subscribers. */
  settled: () => Promise<void>;
  /** Stops accepting events; resolves once every accepted event is written. */
  close: () => Promise<void>;
}

/**
 * Creates the emitter of one run. `events.append` numbers events synchronously in call
 * order, so appends are issued at once (no chaining) and an agent is not slowed to one
 * event per commit; each event gets a PRODUCER span whose context travels in `_meta`.
 */
export function createRunEmitter(
  events: EventLog,
  run: Run,
  onPublished?: (type: string, count: number) => void,
): RunEmitter {
  let open = true;
  let tail: Promise<unknown> = Promise.resolve();
  let failure: Error | null = null;
  // Published events are counted here and reported once per turn (and on close): a metric
  // call per event costs an attribute hash each.
  const published = new Map<string, number>();
  let reportScheduled = false;
  const report = () => {
    reportScheduled = false;
    for (const [type, n] of published) onPublished?.(type, n);
    published.clear();
  };
  const countPublished = (type: string) => {
    if (!onPublished) return;
    published.set(type, (published.get(type) ?? 0) + 1);
    if (reportScheduled) return;
    reportScheduled = true;
    setImmediate(report);
  };
  return {
    emit: (body) => {
      if (!open) return Promise.resolve();
      if (failure !== null) return Promise.reject(failure);
      const draft: AgentEventDraft = {
        ...body,
        threadId: run.threadId,
        runId: run.id,
        ts: Date.now(),
      };
      const { span, event } = startProducerSpan(draft);
      const written = events.append(run.threadId, [event]).then(
        (stored) => {
          const seq = stored[0]?.seq;
          if (seq !== undefined && span.isRecording())
            span.setAttribute('messaging.message.id', String(seq));
          span.end();
          countPublished(draft.type);
        },
        (err: unknown) => {
          recordSpanError(span, err);
          span.end();
          failure ??= err instanceof Error ? err : new Error(String(err));
        },
      );
      tail = written;
      return Promise.resolve();
    },
    settled: () => tail.then(() => undefined),
    close: () => {
      open = false;
      return tail.then(() => {
        if (reportScheduled) report();
      });
    },
  };
}
