/**
 * Counts by key and hands the counts over once per event-loop turn: a metric call hashes its
 * attributes, which per event costs more than the event's own work. One counter serves every
 * producer of a server, so a thousand runs emitting one event each in a turn make one report.
 * @module
 */

/** A per-turn counter; see {@link createTurnCounter}. */
export interface TurnCounter {
  /** Counts one `key`; true when this is the first count of the turn. */
  add(key: string): boolean;
  /** Reports what is counted now, instead of at the end of the turn. */
  flush(): void;
}

/** Creates a counter that calls `report` with the turn's counts (then clears them). */
export function createTurnCounter(
  report: (counts: ReadonlyMap<string, number>) => void,
): TurnCounter {
  const counts = new Map<string, number>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (counts.size === 0) return;
    report(counts);
    counts.clear();
  };
  return {
    add(key) {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (scheduled) return false;
      scheduled = true;
      setImmediate(flush);
      return true;
    },
    flush,
  };
}
