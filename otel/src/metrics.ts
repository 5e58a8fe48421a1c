/**
 * Tracewire's metric instruments, created once per meter with typed attribute sets.
 * Durations are in seconds (OTel convention, `rpc.server.call.duration` is defined in `s`);
 * the delivery lag is in milliseconds as its name's unit says.
 * @module
 */
import type { Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';
import { METRIC_NAMES } from './semconv.js';

/** Attributes of `rpc.server.call.duration`. */
export type RpcCallAttributes = {
  'rpc.system.name': string;
  'rpc.method': string;
  'rpc.status_code': string;
};
/** Transport attribute (`websocket` | `http`). */
export type TransportAttributes = { 'network.protocol.name': string };
/** Event-type attribute. */
export type EventAttributes = { 'tracewire.event.type': string };
/** Run outcome: `completed` or an agent error code. */
export type RunAttributes = { 'tracewire.run.outcome': string };
/** Tool name plus, on failures, `error.type`. */
export type ToolAttributes = { 'gen_ai.tool.name': string; 'error.type'?: string };
/** Name of the limit that refused work. */
export type LimitAttributes = { 'tracewire.limit.name': string };
/** Why a stream was resynced. */
export type ResyncAttributes = { 'tracewire.resync.reason': string };

/** The instruments; attribute keys are the exported `ATTR_*` constants. */
export interface TracewireMetrics {
  /** RPC call duration in seconds, by method and status code (a subscription counts its whole stream). */
  rpcServerCallDuration: Histogram<RpcCallAttributes>;
  /** Open client connections (+1 on open, -1 on close). */
  connectionsActive: UpDownCounter<TransportAttributes>;
  /** Open subscriptions (the tracing middleware maintains it when given the metrics). */
  subscriptionsActive: UpDownCounter<TransportAttributes>;
  /** Events appended to a thread's stream. */
  eventsPublished: Counter<EventAttributes>;
  /** Events published over the per-event span budget: no PRODUCER span of their own. */
  eventSpansSkipped: Counter;
  /** Events written to a client socket or SSE stream. */
  eventsDelivered: Counter<EventAttributes & Partial<TransportAttributes>>;
  /** Event creation (`ts`) to socket write, in milliseconds. */
  eventsDeliveryLag: Histogram<Partial<TransportAttributes>>;
  /** Bytes queued for one connection, sampled at each enqueue. */
  connectionQueuedBytes: Histogram<Partial<TransportAttributes>>;
  /** Connections closed because the client could not keep up. */
  slowConsumerDisconnects: Counter<Partial<TransportAttributes>>;
  /** Subscriptions that resumed from a `lastEventId` (reconnects). */
  subscriptionResumes: Counter<Partial<TransportAttributes>>;
  /** `resync` signals sent (events no longer retained or epoch changed). */
  subscriptionResyncs: Counter<ResyncAttributes>;
  /** Agent run duration in seconds, by outcome (count per outcome included). */
  runDuration: Histogram<RunAttributes>;
  /** Tool call duration in seconds, by tool. */
  toolDuration: Histogram<ToolAttributes>;
  /** Failed tool calls, by tool and `error.type`. */
  toolFailures: Counter<ToolAttributes>;
  /** Work refused by a limit (connections, subscriptions, rate, payload, queue), by limit name. */
  limitRefusals: Counter<LimitAttributes>;
}

const SECONDS_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];
const LAG_MS_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
const BYTES_BUCKETS = [0, 1024, 16384, 65536, 262144, 1048576, 4194304, 16777216];

/** Creates every Tracewire instrument on `meter` (call once per meter; instruments are cheap to share). */
export function createTracewireMetrics(meter: Meter): TracewireMetrics {
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, {
      description,
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    });
  return {
    rpcServerCallDuration: seconds(
      METRIC_NAMES.rpcServerCallDuration,
      'Duration of RPC calls handled by the server',
    ),
    connectionsActive: meter.createUpDownCounter(METRIC_NAMES.connectionsActive, {
      description: 'Open client connections',
      unit: '{connection}',
    }),
    subscriptionsActive: meter.createUpDownCounter(METRIC_NAMES.subscriptionsActive, {
      description: 'Open subscriptions',
      unit: '{subscription}',
    }),
    eventsPublished: meter.createCounter(METRIC_NAMES.eventsPublished, {
      description: 'Agent events appended to a thread stream',
      unit: '{event}',
    }),
    eventSpansSkipped: meter.createCounter(METRIC_NAMES.eventSpansSkipped, {
      description: 'Events published without a PRODUCER span of their own (over the span budget)',
      unit: '{event}',
    }),
    eventsDelivered: meter.createCounter(METRIC_NAMES.eventsDelivered, {
      description: 'Agent events written to a client',
      unit: '{event}',
    }),
    eventsDeliveryLag: meter.createHistogram(METRIC_NAMES.eventsDeliveryLag, {
      description: 'Time from event creation to socket write',
      unit: 'ms',
      advice: { explicitBucketBoundaries: LAG_MS_BUCKETS },
    }),
    connectionQueuedBytes: meter.createHistogram(METRIC_NAMES.connectionQueuedBytes, {
      description: 'Bytes queued for a connection',
      unit: 'By',
      advice: { explicitBucketBoundaries: BYTES_BUCKETS },
    }),
    slowConsumerDisconnects: meter.createCounter(METRIC_NAMES.slowConsumerDisconnects, {
      description: 'Connections closed because the client did not keep up',
      unit: '{connection}',
    }),
    subscriptionResumes: meter.createCounter(METRIC_NAMES.subscriptionResumes, {
      description: 'Subscriptions resumed from a lastEventId',
      unit: '{subscription}',
    }),
    subscriptionResyncs: meter.createCounter(METRIC_NAMES.subscriptionResyncs, {
      description: 'Resync signals sent to clients',
      unit: '{resync}',
    }),
    runDuration: seconds(METRIC_NAMES.runDuration, 'Agent run duration by outcome'),
    toolDuration: seconds(METRIC_NAMES.toolDuration, 'Tool call duration'),
    toolFailures: meter.createCounter(METRIC_NAMES.toolFailures, {
      description: 'Failed tool calls',
      unit: '{call}',
    }),
    limitRefusals: meter.createCounter(METRIC_NAMES.limitRefusals, {
      description: 'Work refused by a limit',
      unit: '{refusal}',
    }),
  };
}
