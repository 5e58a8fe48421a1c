import { ATTR_TRACEWIRE_LIMIT_NAME, type TracewireMetrics } from '@tracewire/otel';
import { loadConfig, type Config } from '../config.js';
import { createLimitCounters, type LimitCounters, type LimitName } from './counters.js';
import { createSlotCounter, type SlotCounter } from './slots.js';
import { createKeyedTokenBuckets, type KeyedTokenBuckets } from './tokenBucket.js';

export { LIMIT_NAMES, createLimitCounters } from './counters.js';
export type { LimitCounters, LimitName } from './counters.js';
export { createTokenBucket, createKeyedTokenBuckets } from './tokenBucket.js';
export type { TokenBucket, KeyedTokenBuckets, TakeResult } from './tokenBucket.js';
export { createSlotCounter } from './slots.js';
export { createResponseBudget, jsonByteLength } from './responseBudget.js';
export type { ResponseBudget } from './responseBudget.js';
export type { SlotCounter } from './slots.js';

/** The per-server limit state shared by the middleware and the transport. */
export interface Limits {
  readonly config: Config['limits'];
  readonly counters: LimitCounters;
  /** Per-user mutation token buckets. */
  readonly mutations: KeyedTokenBuckets;
  /** Live subscriptions by WS connection id / SSE streams by user id. */
  readonly subscriptions: SlotCounter;
  readonly sseStreams: SlotCounter;
  /** Counts a refusal. */
  hit(name: LimitName): void;
  /** Refusal counters and gauges, for metrics. */
  stats(): LimitStats;
}

/** What {@link Limits.stats} reports. */
export interface LimitStats {
  refusals: Record<LimitName, number>;
  /** Connections with at least one live subscription. */
  connectionsWithSubscriptions: number;
  /** Users with at least one live SSE stream. */
  usersWithSseStreams: number;
  /** Users with a partly drained mutation bucket. */
  rateLimitedKeys: number;
}

/** Options of {@link createLimits}. */
export interface CreateLimitsOptions {
  /** Called on every refusal (the refusal metric), after it is counted. */
  onRefusal?: (name: LimitName) => void;
}

/** Creates the limit state for one server from its config. */
export function createLimits(config: Config['limits'], opts: CreateLimitsOptions = {}): Limits {
  const counters = createLimitCounters();
  const { onRefusal } = opts;
  const subscriptions = createSlotCounter();
  const sseStreams = createSlotCounter();
  const mutations = createKeyedTokenBuckets({
    perSecond: config.mutationsPerSecond,
    burst: config.mutationBurst,
  });
  return {
    config,
    counters,
    mutations,
    subscriptions,
    sseStreams,
    hit: (name) => {
      counters.hit(name);
      onRefusal?.(name);
    },
    stats: () => ({
      refusals: counters.stats(),
      connectionsWithSubscriptions: subscriptions.size(),
      usersWithSseStreams: sseStreams.size(),
      rateLimitedKeys: mutations.size(),
    }),
  };
}

const byServices = new WeakMap<object, Limits>();

/**
 * The limit state of one server, keyed by its `Services` object (created on first use), so
 * the middleware and the transport share it without a process-wide singleton: two servers in
 * one process (tests) never share counters or buckets.
 */
export function limitsFor(services: {
  config: Config;
  metrics?: Pick<TracewireMetrics, 'limitRefusals'>;
}): Limits {
  let limits = byServices.get(services);
  if (!limits) {
    const refusals = services.metrics?.limitRefusals;
    // Hand-built configs (tests) may predate the limits section: use the defaults then.
    limits = createLimits(services.config.limits ?? loadConfig({}).limits, {
      // The refusal metric (`tracewire.limits.refusals`, by `tracewire.limit.name`).
      ...(refusals
        ? { onRefusal: (name) => refusals.add(1, { [ATTR_TRACEWIRE_LIMIT_NAME]: name }) }
        : {}),
    });
    byServices.set(services, limits);
  }
  return limits;
}
