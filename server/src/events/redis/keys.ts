/**
 * Redis key layout. Every key of one thread carries the thread id as its hash tag, so a
 * thread's meta hash and stream live in one Redis Cluster slot and one script can touch both.
 *
 * - `<prefix>{<threadId>}:m` meta hash: `e` epoch, `r` run id of the Redis server that holds the
 *   stream, `s` head seq, `o` ts of the oldest retained event (a hint), `k:<runId>` a run's
 *   fence (`token|expiresAtMs|owner`, while a lease holds it), `t:<runId>` a run's terminal seq.
 * - `<prefix>{<threadId>}:s` stream: entry ids `<seq>-0`, fields `d` (the event's JSON, exactly
 *   its wire form), `m` (superjson annotations, when JSON alone is not exact), `t` (its ts).
 * - `<prefix>{<threadId>}:c` pub/sub channel: one message per committed append batch.
 */
export interface ThreadKeys {
  meta: string;
  stream: string;
  channel: string;
}

/** The keys and channel of one thread's stream. */
export function threadKeys(prefix: string, threadId: string): ThreadKeys {
  const base = `${prefix}{${threadId}}:`;
  return { meta: `${base}m`, stream: `${base}s`, channel: `${base}c` };
}

/** The thread id of a channel from {@link threadKeys}, or null for any other channel. */
export function threadOfChannel(prefix: string, channel: string): string | null {
  if (!channel.startsWith(`${prefix}{`) || !channel.endsWith('}:c')) return null;
  return channel.slice(prefix.length + 1, -3);
}

/** The meta-hash field holding a run's fence (`token|expiresAtMs|owner`). */
export const fenceField = (runId: string): string => `k:${runId}`;

/** The meta-hash field holding the seq of a run's terminal event. */
export const terminalField = (runId: string): string => `t:${runId}`;

/** Keys of run coordination (one slot: a script may touch several of them). */
export function clusterKeys(prefix: string): {
  fence: string;
  leases: string;
  instances: string;
  cancel: string;
} {
  const base = `${prefix}{cluster}:`;
  return {
    /** INCR counter: every fencing token is larger than all before it. */
    fence: `${base}fence`,
    /** Sorted set of leased runs (`runId threadId`), scored by lease expiry (Redis time, ms). */
    leases: `${base}leases`,
    /** Sorted set of live instances, scored by heartbeat expiry. */
    instances: `${base}instances`,
    /** Pub/sub channel of cancel requests (a run id per message). */
    cancel: `${base}cancel`,
  };
}
