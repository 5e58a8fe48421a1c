/**
 * The time the connection registry keeps its deadlines in, and how often its one clock
 * checks them.
 * @module
 */

/**
 * Monotonic milliseconds, as integers: small enough (for ~12 days of uptime) to stay unboxed
 * in each connection's fields, and deaf to wall-clock jumps.
 */
export const monoNow = (): number => Math.floor(performance.now());

/**
 * A clock period for deadlines of these lengths: a quarter of the shortest, between 10 ms
 * and 1 s (so a deadline is late by at most a quarter of itself, and token expiry by 1 s).
 */
export function clockTick(...durationsMs: number[]): number {
  const shortest = Math.min(4_000, ...durationsMs);
  return Math.min(1_000, Math.max(10, Math.floor(shortest / 4)));
}
