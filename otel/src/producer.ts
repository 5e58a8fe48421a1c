/**
 * PRODUCER spans for published agent events. The span's context is written into the event's
 * `_meta`, so every client that receives the event (live or replayed later) can link its CONSUMER
 * span to the moment the event was created (messaging semconv: "A producer SHOULD attach a message
 * creation context to each message").
 * @module
 */
import type { Context, Span, SpanContext, TracerProvider } from '@opentelemetry/api';
import { SpanKind, TraceFlags, context, trace } from '@opentelemetry/api';
import type { EventMeta } from '@tracewire/shared';
import { encodeSpanContext } from './meta.js';
import {
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_TEMPLATE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_TRACEWIRE_EVENT_TYPE,
  ATTR_TRACEWIRE_RUN_ID,
  EVENTS_DESTINATION,
  MESSAGING_SYSTEM_TRACEWIRE,
  SPAN_SEND_EVENTS,
} from './semconv.js';
import { getTracewireTracer, recordSpanError } from './tracing.js';

/** The event fields the producer span reads (every `AgentEvent` fits). */
export interface ProducedEvent {
  threadId: string;
  /** Stream position; may be unknown until the log appends it (set `messaging.message.id` on the span then). */
  seq?: number;
  type?: string;
  runId?: string;
  _meta?: EventMeta | undefined;
}

/**
 * How many events may have a PRODUCER span of their own (e.g. a token bucket per process).
 * `take()` is asked once per event of a sampled trace; false means: no span for this one.
 */
export interface EventSpanBudget {
  take(): boolean;
}

/** Options of {@link startProducerSpan}. */
export interface ProducerSpanOptions {
  /** Provider; the global API when omitted. */
  tracerProvider?: TracerProvider;
  /** Parent context; the active one when omitted (normally inside `invoke_agent`). */
  parent?: Context;
  /**
   * Caps the events that get their own span; every event when omitted. An event over the
   * budget carries its parent's context in `_meta` instead, so the client's CONSUMER span
   * still links into the run's trace.
   */
  budget?: EventSpanBudget;
}

/** The attributes every producer span has, shared (no object per event). */
const STATIC_ATTRIBUTES = Object.freeze({
  [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_TRACEWIRE,
  [ATTR_MESSAGING_OPERATION_TYPE]: 'send',
  [ATTR_MESSAGING_OPERATION_NAME]: 'send',
  [ATTR_MESSAGING_DESTINATION_TEMPLATE]: EVENTS_DESTINATION,
});

/**
 * `_meta` of the span contexts that events over the budget carry: encoded (and validated)
 * once per run or tool span rather than per event; dropped with the span.
 */
const parentMetas = new WeakMap<SpanContext, Readonly<EventMeta>>();
function metaOfParent(sc: SpanContext): Readonly<EventMeta> {
  let meta = parentMetas.get(sc);
  if (!meta) {
    meta = Object.freeze(encodeSpanContext(sc));
    parentMetas.set(sc, meta);
  }
  return meta;
}

/**
 * Starts a PRODUCER `send agent.events` span and returns it with a copy of the event whose `_meta`
 * holds the span's trace context. The caller ends the span once the event is published.
 *
 * Hot path (one span per event): the per-event attributes and `_meta` are only computed for a
 * recording (sampled) span; an unsampled or disabled span costs its creation and nothing more,
 * and its event carries no `_meta` (there is no exported span to link to). Over the `budget`,
 * no span is made (a non-recording stand-in with the parent's context is returned): a span
 * costs ~5 µs, and past what the exporter can send the SDK would drop it anyway, leaving
 * events that link to spans nobody receives.
 */
export function startProducerSpan<T extends ProducedEvent>(
  event: T,
  options: ProducerSpanOptions = {},
): { span: Span; event: T } {
  const parent = options.parent ?? context.active();
  const budget = options.budget;
  if (budget) {
    const parentContext = trace.getSpanContext(parent);
    if (parentContext && parentContext.traceFlags & TraceFlags.SAMPLED && !budget.take()) {
      const meta = metaOfParent(parentContext);
      return {
        span: trace.wrapSpanContext(parentContext),
        event: meta.traceparent ? Object.assign({}, event, { _meta: meta }) : event,
      };
    }
  }
  const span = getTracewireTracer(options.tracerProvider).startSpan(
    SPAN_SEND_EVENTS,
    { kind: SpanKind.PRODUCER, attributes: STATIC_ATTRIBUTES },
    parent,
  );
  if (!span.isRecording()) return { span, event };
  span.setAttribute(ATTR_MESSAGING_DESTINATION_NAME, event.threadId);
  if (event.seq !== undefined) span.setAttribute(ATTR_MESSAGING_MESSAGE_ID, String(event.seq));
  if (event.type !== undefined) span.setAttribute(ATTR_TRACEWIRE_EVENT_TYPE, event.type);
  if (event.runId !== undefined) span.setAttribute(ATTR_TRACEWIRE_RUN_ID, event.runId);
  // Read from the span itself: building a context just to read it back costs a copy per event.
  const meta = encodeSpanContext(span.spanContext());
  // Object.assign: a property after a spread costs ~0.7 µs on Node 20, once per event here.
  return { span, event: meta.traceparent ? Object.assign({}, event, { _meta: meta }) : event };
}

/**
 * Publishes `event` inside a PRODUCER span: `publish` receives the event with `_meta` set and runs
 * with the span active; the span ends when it settles (errors recorded and rethrown).
 */
export async function withEventProducer<T extends ProducedEvent, R>(
  event: T,
  publish: (event: T) => R | Promise<R>,
  options: ProducerSpanOptions = {},
): Promise<R> {
  const { span, event: withMeta } = startProducerSpan(event, options);
  try {
    return await context.with(trace.setSpan(options.parent ?? context.active(), span), () =>
      publish(withMeta),
    );
  } catch (err) {
    recordSpanError(span, err);
    throw err;
  } finally {
    span.end();
  }
}
