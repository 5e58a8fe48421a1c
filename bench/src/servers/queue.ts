/** An unbounded push queue read as an async iterable, ended by a signal (tRPC generator glue). */
export function createQueue<T>() {
  let items: T[] = [];
  let head = 0;
  let wake: (() => void) | null = null;
  return {
    size: () => items.length - head,
    push(item: T) {
      items.push(item);
      const w = wake;
      wake = null;
      w?.();
    },
    async *drain(signal: AbortSignal): AsyncGenerator<T> {
      const onAbort = () => wake?.();
      signal.addEventListener('abort', onAbort);
      try {
        while (!signal.aborted) {
          if (head < items.length) {
            yield items[head++]!;
          } else {
            items = [];
            head = 0;
            await new Promise<void>((resolve) => (wake = resolve));
          }
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
