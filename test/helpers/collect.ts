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

/** What a plain client needs for {@link sendAndCollect} (the typed tRPC client fits). */
interface TurnClient {
  chat: {
    send: {
      mutate(input: { threadId: string; content: string; clientMessageId: string }): Promise<{
        run: { id: string };
      }>;
    };
  };
  agent: {
    events: {
      subscribe(
        input: { threadId: string },
        handlers: { onData: (d: Received) => void; onError: (e: unknown) => void },
      ): { unsubscribe(): void };
    };
  };
}

/**
 * One chat turn as a client does it without races: subscribe, wait for the stream's
 * position marker (the subscription is live from there), send, and collect until that
 * run's terminal event, even if it arrives before the send's answer. `onEvent` sees every
 * event as it arrives (e.g. to cancel).
 */
export async function sendAndCollect(
  trpc: TurnClient,
  input: { threadId: string; content: string; clientMessageId: string },
  opts: { onEvent?: (e: StreamEvent) => void; timeoutMs?: number } = {},
): Promise<{ received: Received[]; runId: string }> {
  const received: Received[] = [];
  const ended = new Set<string>();
  let wake = () => {};
  let failure: Error | null = null;
  const sub = trpc.agent.events.subscribe(
    { threadId: input.threadId },
    {
      onData(d) {
        received.push(d);
        opts.onEvent?.(d.data);
        if (d.data.type === 'agent_completed' || d.data.type === 'agent_error')
          ended.add(d.data.runId);
        wake();
      },
      onError(e) {
        failure = e instanceof Error ? e : new Error(JSON.stringify(e));
        wake();
      },
    },
  );
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const until = async (cond: () => boolean, what: string) => {
    while (!cond()) {
      if (failure !== null) throw failure;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${what}; got ${received.map((r) => r.data.type).join(',')}`,
        );
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.min(left, 50));
      });
    }
  };
  try {
    await until(
      () => received.some((r) => r.data.type === 'stream_position'),
      'the position marker',
    );
    const runId = (await trpc.chat.send.mutate(input)).run.id;
    await until(() => ended.has(runId), `the end of run ${runId}`);
    return {
      received: received.slice(0, received.findIndex((r) => isTerminalFor(r, runId)) + 1),
      runId,
    };
  } finally {
    sub.unsubscribe();
  }
}

const isTerminalFor = (r: Received, runId: string) =>
  (r.data.type === 'agent_completed' || r.data.type === 'agent_error') && r.data.runId === runId;
