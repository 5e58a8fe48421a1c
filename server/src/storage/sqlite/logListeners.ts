import type { AgentEvent } from '@tracewire/shared';
import type { Logger } from 'pino';
import type { EventListener } from '../../events/eventLog.js';

interface Subscription {
  listener: EventListener;
  active: boolean;
}

/** The live listeners of each thread, called after a commit in seq order. */
export class LogListeners {
  readonly #byThread = new Map<string, Set<Subscription>>();
  readonly #logger: Logger | undefined;

  constructor(logger: Logger | undefined) {
    this.#logger = logger;
  }

  /** Adds a listener of one thread; returns the unsubscribe function. */
  subscribe(threadId: string, listener: EventListener): () => void {
    const sub: Subscription = { listener, active: true };
    let set = this.#byThread.get(threadId);
    if (!set) {
      set = new Set();
      this.#byThread.set(threadId, set);
    }
    set.add(sub);
    return () => {
      sub.active = false;
      const current = this.#byThread.get(threadId);
      if (!current) return;
      current.delete(sub);
      if (current.size === 0) this.#byThread.delete(threadId);
    };
  }

  /** Hands committed events of one thread to its listeners, event by event. */
  notify(threadId: string, events: readonly AgentEvent[]): void {
    const set = this.#byThread.get(threadId);
    if (!set || set.size === 0) return;
    const subs = [...set];
    for (const event of events) {
      for (const sub of subs) {
        if (!sub.active) continue;
        try {
          sub.listener(event);
        } catch (err) {
          // One broken listener must not starve the others or fail the append.
          this.#logger?.error({ err, threadId, seq: event.seq }, 'event listener threw');
        }
      }
    }
  }

  /** Drops every listener (on close). */
  clear(): void {
    this.#byThread.clear();
  }
}
