/**
 * Delivered-event metrics for event streams: counts and delivery lag, batched per turn.
 * @module
 */
import type { Services } from '../services.js';
import { createTurnCounter } from './turnCounter.js';

/** The transport a subscription's events leave by, as metric attributes name it. */
export type Protocol = 'websocket' | 'http';
export const TRANSPORT_ATTRS: Record<Protocol, { 'network.protocol.name': Protocol }> = {
  websocket: { 'network.protocol.name': 'websocket' },
  http: { 'network.protocol.name': 'http' },
};
const deliveredAttrs = new Map<
  string,
  { 'tracewire.event.type': string; 'network.protocol.name': Protocol }
>();
/** One shared attribute object per (type, transport): no allocation per event. */
function attrsFor(type: string, protocol: Protocol) {
  const key = `${protocol}|${type}`;
  let attrs = deliveredAttrs.get(key);
  if (!attrs) {
    attrs = { 'tracewire.event.type': type, 'network.protocol.name': protocol };
    deliveredAttrs.set(key, attrs);
  }
  return attrs;
}

export type DeliveryMeter = (event: { type: string; ts: number }) => void;

/**
 * Counts delivered events once per event-loop turn (see {@link createTurnCounter}) and samples
 * the delivery lag once per turn, from the oldest event written in it (the frames of a turn
 * leave together, see the transport's write batching). One meter per server and transport,
 * shared by every subscription: nothing is held per subscriber.
 */
function createDeliveryMeter(metrics: Services['metrics'], protocol: Protocol): DeliveryMeter {
  let oldestTs = 0;
  const counter = createTurnCounter((counts) => {
    for (const [type, n] of counts) metrics.eventsDelivered.add(n, attrsFor(type, protocol));
    metrics.eventsDeliveryLag.record(Date.now() - oldestTs, TRANSPORT_ATTRS[protocol]);
  });
  return (event) => {
    if (counter.add(event.type)) oldestTs = event.ts;
  };
}

const meters = new WeakMap<Services['metrics'], Record<Protocol, DeliveryMeter>>();
/** The shared meter of a server's metrics for one transport. */
export function deliveryMeter(metrics: Services['metrics'], protocol: Protocol): DeliveryMeter {
  let m = meters.get(metrics);
  if (!m) {
    m = {
      websocket: createDeliveryMeter(metrics, 'websocket'),
      http: createDeliveryMeter(metrics, 'http'),
    };
    meters.set(metrics, m);
  }
  return m[protocol];
}
