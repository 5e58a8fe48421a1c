/**
 * What the orchestrator, the servers under test and the load generators say to each other
 * (over Node IPC), and the workload every system produces: same payload, same counts.
 */

/** The systems under test; also the file names under `servers/`. */
export const SYSTEMS = [
  'raw-ws',
  'trpc',
  'socketio',
  'tracewire',
  'tracewire-sampled10',
  'tracewire-notrace',
  'tracewire-llm',
] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** Systems that only make sense for a chat turn (S5): they run only where a plan lists them. */
export const AGENT_ONLY_SYSTEMS: readonly SystemName[] = ['tracewire-llm'];

/** How one stream produces: as fast as accepted for a duration, `count` events at a rate, or nothing. */
export type StreamParams =
  | { mode: 'flood'; durationMs: number }
  | {
      mode: 'rate';
      count: number;
      perSecond: number;
      /** Epoch ms at which every stream begins (set at `go`), so stream set-up is not latency. */
      startAt?: number;
    }
  | { mode: 'idle' };

/** The benchmark event: the wire shape of a Tracewire `message_delta`. */
export interface BenchEvent {
  type: 'message_delta' | 'agent_completed';
  threadId: string;
  runId: string;
  epoch: string;
  seq: number;
  /** Creation time on the server (ms since the Unix epoch): latency is receipt minus this. */
  ts: number;
  delta?: string;
}

/** Answer text chunk sized so a serialized `message_delta` is about 150 bytes. */
export const DELTA_TEXT = ' the answer, streamed token by token';

/** Builds a peer's event (Tracewire builds its own through the agent context). */
export function benchEvent(streamId: string, seq: number): BenchEvent {
  return {
    type: 'message_delta',
    threadId: streamId,
    runId: `run_${streamId}`,
    epoch: 'e1',
    seq,
    ts: Date.now(),
    delta: DELTA_TEXT,
  };
}

/** A peer stream's terminal event (Tracewire's is its own `agent_completed`). */
export function endEvent(streamId: string, seq: number): BenchEvent {
  const { delta: _delta, ...ev } = benchEvent(streamId, seq);
  return { ...ev, type: 'agent_completed' };
}

/** Orchestrator → server. */
export type ServerCommand = { type: 'stats'; gc?: boolean } | { type: 'drop' } | { type: 'exit' };
/** Server → orchestrator. */
export type ServerMessage =
  | { type: 'ready'; port: number }
  | {
      type: 'stats';
      cpuUserUs: number;
      cpuSystemUs: number;
      rss: number;
      /** V8 heap in use (after a GC when asked): what of RSS is JavaScript objects. */
      heapUsed: number;
      /** p99 event-loop lateness (ms) since the previous stats request. */
      loopDelayP99Ms: number;
    }
  | { type: 'dropped'; at: number; sockets: number }
  | { type: 'error'; message: string };

/** Arguments of a load generator process (argv[2], JSON). */
export interface LoadArgs {
  system: SystemName;
  port: number;
  /** Clients in this process, and the index of the first (stream ids are global). */
  clients: number;
  offset: number;
  params: StreamParams;
  /** HS256 secret for Tracewire tokens. */
  secret: string;
  /** Opening connections this many at a time. */
  connectConcurrency: number;
  /** S5 only: sequential chat turns, after `warmupTurns` measured apart. */
  turns?: number;
  warmupTurns?: number;
  /** Give up waiting for streams to end after this long. */
  timeoutMs: number;
}

/** Orchestrator → load generator. */
export type LoadCommand = { type: 'go'; startAt?: number } | { type: 'stop' };
/** Load generator → orchestrator. */
export type LoadMessage =
  { type: 'connected'; connectMs: number; failed: number } | { type: 'result'; result: LoadResult };

/** What one load process measured. */
export interface LoadResult {
  clients: number;
  connectMs: number;
  connectFailed: number;
  /** Deltas received (including duplicates), distinct seqs, expected (rate mode). */
  received: number;
  distinct: number;
  expected: number;
  /** Streams that saw their terminal event. */
  completed: number;
  /** Latency histogram: ms → count. */
  latency: Record<string, number>;
  firstAt: number;
  lastAt: number;
  startedAt: number;
  /** S4: per-client time (epoch ms) when caught up after the drop; 0 when never. */
  caughtUpAt: number[];
  reconnects: number;
  resyncs: number;
  /** CPU seconds this load process spent from `go` to its result: what the clients cost. */
  cpuS: number;
  /** p99 event-loop lateness (ms) of this load process from `go` to its result. */
  loopDelayP99Ms: number;
  /** S5: per-turn ms from send to agent_started / agent_completed. */
  turnStarted?: Record<string, number>;
  turnCompleted?: Record<string, number>;
  /** S5: per-turn ms from send until the client's WebSocket writes the request frame. */
  turnHeld?: Record<string, number>;
  /** S5: per-turn ms from that frame leaving the client to agent_started arriving. */
  turnStartedAfterWrite?: Record<string, number>;
  /** S5: send to agent_started of the warm-up turns, kept out of the figures above. */
  turnWarmupStarted?: Record<string, number>;
  errors: string[];
}
