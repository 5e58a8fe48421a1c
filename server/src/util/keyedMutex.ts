/**
 * Serialises async critical sections per key (e.g. per thread), so that a group of
 * writes looks atomic to readers that take the same lock.
 */
export interface KeyedMutex {
  /** Runs `fn` once every earlier holder of `key` has finished (FIFO per key). */
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /** Number of keys currently held or waited on (0 when idle: entries never leak). */
  readonly size: number;
}

/** Creates an in-process keyed mutex. Different keys never wait for each other. */
export function createKeyedMutex(): KeyedMutex {
  // Each key maps to the promise that resolves when its last queued holder releases.
  const tails = new Map<string, Promise<void>>();

  return {
    async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const previous = tails.get(key);
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      // The tail never rejects: it tracks release, not the outcome of `fn`.
      const tail = previous ? previous.then(() => released) : released;
      tails.set(key, tail);
      try {
        if (previous) await previous;
        return await fn();
      } finally {
        release();
        if (tails.get(key) === tail) tails.delete(key);
      }
    },
    get size() {
      return tails.size;
    },
  };
}
