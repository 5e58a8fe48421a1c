/** Counted slots per key (subscriptions per connection, SSE streams per user). */
export interface SlotCounter {
  /** Takes a slot; returns its release (idempotent), or null when the key is at `max`. */
  acquire(key: string, max: number): (() => void) | null;
  /** Slots in use for a key. */
  count(key: string): number;
  /** Keys with at least one slot in use. */
  size(): number;
}

/** Creates a slot counter; keys disappear when their last slot is released. */
export function createSlotCounter(): SlotCounter {
  const inUse = new Map<string, number>();
  return {
    acquire(key, max) {
      const n = inUse.get(key) ?? 0;
      if (n >= max) return null;
      inUse.set(key, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (inUse.get(key) ?? 1) - 1;
        if (left <= 0) inUse.delete(key);
        else inUse.set(key, left);
      };
    },
    count: (key) => inUse.get(key) ?? 0,
    size: () => inUse.size,
  };
}
