import type { TextStream } from './types.js';

/** What {@link createTextStream} needs. */
export interface TextStreamTarget {
  /** Emits one `message_delta`. */
  delta(text: string): Promise<void>;
  /** Emits one `agent_thinking`. */
  think(text: string): Promise<void>;
  /** The run's signal: a stopped run takes no more text and its timer is dropped. */
  signal: AbortSignal;
  /** Minimum ms between two events of one kind. */
  intervalMs: number;
}

type Kind = 'delta' | 'think';

/**
 * Creates a {@link TextStream}: leading-edge throttling per kind (the first piece leaves at
 * once, later ones are joined until the interval has passed), so a model streaming hundreds
 * of tokens a second produces a bounded number of events while the answer starts without
 * delay. Order across kinds is kept: text of the other kind flushes the buffer first.
 */
export function createTextStream(target: TextStreamTarget): TextStream {
  const { signal, intervalMs } = target;
  let kind: Kind | null = null;
  let buffer = '';
  const lastSent: Record<Kind, number> = { delta: -Infinity, think: -Infinity };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failure: Error | null = null;
  let last: Promise<void> = Promise.resolve();

  const cancelTimer = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  signal.addEventListener('abort', cancelTimer, { once: true });

  function send(): void {
    cancelTimer();
    if (kind === null || buffer === '') return;
    const text = buffer;
    const k = kind;
    buffer = '';
    lastSent[k] = performance.now();
    // The emits enqueue synchronously in call order; a failure is reported on the next call.
    last = target[k](text).catch((err: unknown) => {
      failure ??= err instanceof Error ? err : new Error(String(err));
    });
  }

  function push(k: Kind, text: string): void {
    if (failure !== null) throw failure;
    signal.throwIfAborted();
    if (text === '') return;
    if (kind !== k) send();
    kind = k;
    buffer += text;
    const wait = lastSent[k] + intervalMs - performance.now();
    if (wait <= 0) send();
    else timer ??= setTimeout(send, wait);
  }

  return {
    delta: (text) => push('delta', text),
    think: (text) => push('think', text),
    async flush() {
      if (!signal.aborted) send();
      cancelTimer();
      await last;
      if (failure !== null) throw failure;
    },
  };
}
