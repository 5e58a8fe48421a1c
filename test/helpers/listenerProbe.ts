import type { EventLog } from '@tracewire/server';

/** Live-tail listeners of an event log, as counted by {@link probeListeners}. */
export interface ListenerProbe {
  /** Listeners subscribed and not yet unsubscribed. */
  readonly active: number;
  /** Listeners ever subscribed. */
  readonly total: number;
}

/**
 * Counts live listeners of a real event log by wrapping its `subscribe` (the log itself
 * stays real; `EventLog` exposes no listener count). Install before the subscriptions to
 * be counted are opened.
 */
export function probeListeners(events: EventLog): ListenerProbe {
  let active = 0;
  let total = 0;
  const subscribe = events.subscribe.bind(events);
  events.subscribe = (threadId, listener) => {
    const unsubscribe = subscribe(threadId, listener);
    active++;
    total++;
    let done = false;
    return () => {
      if (!done) {
        done = true;
        active--;
      }
      unsubscribe();
    };
  };
  return {
    get active() {
      return active;
    },
    get total() {
      return total;
    },
  };
}
