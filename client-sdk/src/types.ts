import type { AgentEvent, Message, ResyncEvent, Run } from '@tracewire/shared';

/** `T` without `K`, member by member, so a discriminated union stays narrowable. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An agent event as the app sees it: `_meta` (producer trace context) is stripped. */
export type RunEvent = DistributiveOmit<AgentEvent, '_meta'>;

/**
 * What the SDK's event helpers yield: agent events, plus `resync` when the stream could
 * not be resumed exactly (reload history with `chat.history`, then carry on). The
 * `stream_position` marker is consumed by the SDK and never shown.
 */
export type ThreadEvent = RunEvent | ResyncEvent;

/**
 * Result of `chat.send`: the stored user message, the run it started, and `lastEventId`, the
 * position after which the run's first event comes (subscribe from it to miss none).
 */
export interface SendResult {
  message: Message;
  run: Run;
  lastEventId: string;
}

/** Delivery counters, per stream and summed per client (chaos tests report them). */
export interface StreamStats {
  /** Frames received from the server (including duplicates and control events). */
  received: number;
  /** Events delivered to the app. */
  delivered: number;
  /** Events dropped because their seq was already delivered. */
  duplicatesDropped: number;
  /** Gaps detected (a seq that skipped). */
  gapsDetected: number;
  /** Gaps closed: the missing event arrived after resubscribing. */
  gapsRepaired: number;
  /** Subscriptions opened again by the SDK (gap repair, server-ended or failed streams). */
  resubscribes: number;
  /** `resync` events surfaced to the app. */
  resyncs: number;
}

/** A zeroed {@link StreamStats}. */
export const emptyStats = (): StreamStats => ({
  received: 0,
  delivered: 0,
  duplicatesDropped: 0,
  gapsDetected: 0,
  gapsRepaired: 0,
  resubscribes: 0,
  resyncs: 0,
});
