import type { Span } from '@opentelemetry/api';
import { startProducerSpan, recordSpanError, type EventSpanBudget } from '@tracewire/otel';
import type { AgentEvent, AppError, Run } from '@tracewire/shared';
import type { AgentEventDraft, EventLog } from '../events/eventLog.js';
import type { TurnCounter } from '../telemetry/turnCounter.js';
import type { EventBody } from './runContext.js';

/** Writes one run's events in call order and can be closed before the terminal event. */
export interface RunEmitter {
  /**
   * Appends an event of the run; a no-op once closed (a late agent cannot write after the
   * end). Resolves as soon as the log has accepted (numbered) the event, not when it is
   * committed: the log commits in order, in batches. A malformed event rejects its own emit;
   * a failed commit makes the next emit reject.
   */
  emit: (body: EventBody) => Promise<void>;
  /** Resolves once every event accepted so far is committed and handed to subscribers. */
  settled: () => Promise<void>;
  /** Stops accepting events; resolves once every accepted event is written. */
  close: () => Promise<void>;
}

/** Per-process telemetry shared by every run's emitter. */
export interface RunEmitterTelemetry {
  /** Counts published events by type. */
  published?: TurnCounter | undefined;
  /** Caps the events that get their own PRODUCER span. */
  spanBudget?: EventSpanBudget | undefined;
}

/** What `emit` returns for an accepted event: one shared settled promise, not one per event. */
const ACCEPTED: Promise<void> = Promise.resolve();

/**
 * Creates the emitter of one run. `events.enqueue` numbers events synchronously in call
 * order, so appends are issued at once (no chaining) and an agent is not slowed to one
 * event per commit; each event gets a PRODUCER span whose context travels in `_meta` (within
 * `spanBudget`, when given; see `startProducerSpan`).
 *
 * Nothing is allocated per event beyond the event and its span: the log reports appends in
 * call order, so one callback serves them all, taking each event's span from a queue.
 */
export function createRunEmitter(
  events: EventLog,
  run: Run,
  telemetry: RunEmitterTelemetry = {},
): RunEmitter {
  const { published, spanBudget } = telemetry;
  const producerOptions = spanBudget ? { budget: spanBudget } : {};
  let open = true;
  let failure: Error | null = null;
  /** Events handed to the log, and how many of them it has reported since. */
  let accepted = 0;
  let reported = 0;
  /** Spans of the events in flight, oldest first (null where the span does not record). */
  const spans: (Span | null)[] = [];
  let oldest = 0;
  /** `settled()` callers, each waiting for the count of events accepted when it was called. */
  const waiters: { until: number; resolve: () => void }[] = [];
  const onStored = (err: AppError | null, stored: readonly AgentEvent[]) => {
    const span = spans[oldest];
    spans[oldest++] = null;
    if (oldest === spans.length) spans.length = oldest = 0;
    reported += 1;
    try {
      const event = stored[0];
      if (err || !event) {
        if (span) recordSpanError(span, err);
        failure ??= err ?? new Error('event was not stored');
      } else {
        if (span) span.setAttribute('messaging.message.id', String(event.seq));
        published?.add(event.type);
      }
      span?.end();
    } finally {
      // Whatever the telemetry does, waiters are released in order.
      while (waiters.length > 0 && waiters[0]!.until <= reported) waiters.shift()!.resolve();
    }
  };
  const settled = (): Promise<void> =>
    reported >= accepted
      ? Promise.resolve()
      : new Promise((resolve) => waiters.push({ until: accepted, resolve }));
  return {
    emit: (body) => {
      if (!open) return ACCEPTED;
      if (failure !== null) return Promise.reject(failure);
      // Not `{ ...body, threadId, … }`: on Node 20 a spread followed by more properties costs
      // ~0.7 µs per added property (measured), more than the rest of this function.
      const draft: AgentEventDraft = Object.assign({}, body, {
        threadId: run.threadId,
        runId: run.id,
        ts: Date.now(),
      });
      const { span, event } = startProducerSpan(draft, producerOptions);
      try {
        events.enqueue(run.threadId, [event], onStored);
      } catch (err) {
        // Refused before it took a position (a malformed event, a closed log).
        recordSpanError(span, err);
        span.end();
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      // The log reports later, never within the call: queued after it returned.
      spans.push(span.isRecording() ? span : null);
      accepted += 1;
      return ACCEPTED;
    },
    settled,
    close: () => {
      open = false;
      return settled().then(() => published?.flush());
    },
  };
}
