/**
 * What an `agent.events` subscription reports: open/close gauges, delivered events, resumes,
 * resyncs, slow-consumer closes (with a log line) and queued bytes.
 * @module
 */
import type { ResyncReason, StreamEvent, UserId } from '@tracewire/shared';
import type { SubscriptionObserver } from '../events/threadSubscription.js';
import { createCallLogger } from '../middleware/requestContext.js';
import type { Services } from '../services.js';
import {
  deliveryMeter,
  TRANSPORT_ATTRS,
  type DeliveryMeter,
  type Protocol,
} from './deliveryMeter.js';

/** Who subscribed, for the observer's log line. */
export interface SubscriberInfo {
  services: Services;
  /** The call's transport (`ws` or an HTTP one). */
  transport: 'http' | 'sse' | 'ws' | 'internal';
  requestId: string;
  userId: UserId;
  threadId: string;
}

/** Creates the observer of one subscription. */
export function createSubscriptionObserver(info: SubscriberInfo): SubscriptionObserver {
  return new MeteredSubscription(info);
}

/**
 * A class, not closures: one per open subscription. It makes its logger only when it logs
 * (a slow consumer), instead of holding the call's for as long as the subscription lasts.
 */
class MeteredSubscription implements SubscriptionObserver {
  readonly #info: SubscriberInfo;
  readonly #attrs: (typeof TRANSPORT_ATTRS)[Protocol];
  readonly #delivered: DeliveryMeter;

  constructor(info: SubscriberInfo) {
    this.#info = info;
    const protocol: Protocol = info.transport === 'ws' ? 'websocket' : 'http';
    this.#attrs = TRANSPORT_ATTRS[protocol];
    this.#delivered = deliveryMeter(info.services.metrics, protocol);
  }

  opened(resumed: boolean): void {
    const { metrics } = this.#info.services;
    if (resumed) metrics.subscriptionResumes.add(1, this.#attrs);
    metrics.subscriptionsActive.add(1, this.#attrs);
  }

  closed(): void {
    this.#info.services.metrics.subscriptionsActive.add(-1, this.#attrs);
  }

  delivered(event: StreamEvent): void {
    this.#delivered(event);
  }

  resynced(reason: ResyncReason): void {
    this.#info.services.metrics.subscriptionResyncs.add(1, { 'tracewire.resync.reason': reason });
  }

  slowConsumer(): void {
    const { services, requestId, userId, threadId } = this.#info;
    services.metrics.slowConsumerDisconnects.add(1, this.#attrs);
    createCallLogger(services, requestId, userId).warn(
      { thread_id: threadId },
      'slow consumer disconnected',
    );
  }

  waited(queuedBytes: number): void {
    this.#info.services.metrics.connectionQueuedBytes.record(queuedBytes, this.#attrs);
  }
}
