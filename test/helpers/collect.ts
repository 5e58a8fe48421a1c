import type { StreamEvent } from '@tracewire/shared';

/** A tracked event as a plain tRPC client receives it. */
export interface Received {
  id: string;
  data: StreamEvent;
}

/** Subscribe function shape of `trpc.agent.events.subscribe`. */
type Subscribe = (handlers: { onData: (d: Received) => void; onError: (e: unknown) => void }) => {
  unsubscribe(): void;
};

/** Collects events until `until` says stop (or the timeout fails the test). */
export function collectUntil(
  subscribe: Subscribe,
  until: (e: StreamEvent, all: Received[]) => boolean,
  timeoutMs = 10_000,
): Promise<Received[]> & { stop(): void } {
  let sub: { unsubscribe(): void } | undefined;
  const all: Received[] = [];
  const promise = new Promise<Received[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      sub?.unsubscribe();
      reject(
        new Error(
          `timed out after ${timeoutMs} ms with ${all.length} events: ${all.map((e) => e.data.type).join(',')}`,
        ),
      );
    }, timeoutMs);
    sub = subscribe({
      onData(d) {
        all.push(d);
        if (until(d.data, all)) {
          clearTimeout(timer);
          sub?.unsubscribe();
          resolve(all);
        }
      },
      onError(e) {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    });
  });
  return Object.assign(promise, { stop: () => sub?.unsubscribe() });
}

/** Resolves when `cond` holds, polling every 10 ms. */
export async function waitFor(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('waitFor timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
