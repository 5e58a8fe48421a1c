import type { StreamParams, SystemName } from './protocol.js';

/** The scenario ids of issue 6. */
export type ScenarioId = 'S1' | 'S2' | 'S3' | 'S4' | 'S5';

/** One scenario as a profile sizes it. */
export interface ScenarioPlan {
  id: ScenarioId;
  title: string;
  clients: number;
  params: StreamParams;
  /** Load generator processes the clients are split over. */
  procs: number;
  connectConcurrency: number;
  /** Bound on connecting every client. */
  connectTimeoutMs: number;
  /** Bound on the measured phase. */
  timeoutMs: number;
  /** S4: drop every connection this long after the streams start. */
  dropAfterMs?: number;
  /**
   * Rate mode: streams are asked to start at `go` and all begin producing this long after it,
   * so that setting up a thousand streams (a `chat.send` each for Tracewire) is not counted as
   * event latency. The same for every system.
   */
  startDelayMs?: number;
  /** S5: sequential chat turns. */
  turns?: number;
  /**
   * S5: turns sent first and measured apart (`warmup*` metrics), so the percentiles describe the
   * steady state rather than the JIT compiling the server's code paths.
   */
  warmupTurns?: number;
  /** Extra environment for the Tracewire servers. */
  tracewireEnv?: Record<string, string>;
  /** Systems that can run it (S5 needs an agent platform). */
  systems?: readonly SystemName[];
}

/** Quick (`npm run bench`, a few minutes on 2 cores) or full (`-- --full`, the numbers). */
export type ProfileName = 'quick' | 'full';

/** Builds the scenario plans of a profile. */
export function plans(profile: ProfileName): ScenarioPlan[] {
  const full = profile === 'full';
  return [
    {
      id: 'S1',
      title: `throughput: 100 clients, each its own stream, producing as fast as accepted for ${full ? 30 : 5} s`,
      clients: 100,
      params: { mode: 'flood', durationMs: full ? 30_000 : 5_000 },
      procs: 1,
      connectConcurrency: 50,
      connectTimeoutMs: 30_000,
      timeoutMs: full ? 120_000 : 40_000,
    },
    {
      id: 'S2',
      // Quick: 5 s (was 10 s) so that the five systems fit the 5-minute quick profile.
      title: `latency under load: 1,000 clients × 10 events/s for ${full ? 60 : 5} s`,
      clients: 1000,
      params: { mode: 'rate', count: full ? 600 : 50, perSecond: 10 },
      startDelayMs: 2_000,
      // Two load processes of 500 clients: S2 measures latency, and a load process's own
      // pauses (GC, parsing a burst) delay every client it hosts at once, which no real
      // client population shares. With one, the Tracewire clients' loop ran 11–17 ms late
      // (p99) and the client side held most of the tail; S4 measures seconds and keeps one.
      procs: 2,
      connectConcurrency: 100,
      connectTimeoutMs: 60_000,
      timeoutMs: full ? 120_000 : 40_000,
    },
    {
      id: 'S3',
      // Quick: 5,000 (Tracewire takes ~50-65 s to open 10,000 on 2 shared cores; the fd limit, 20,000, is not the bound).
      title: `${full ? '10,000' : '5,000'} idle connections (connected, authenticated where the system has auth, subscribed)`,
      clients: full ? 10_000 : 5_000,
      params: { mode: 'idle' },
      procs: 2,
      connectConcurrency: 200,
      connectTimeoutMs: full ? 300_000 : 120_000,
      timeoutMs: 5_000,
    },
    {
      id: 'S4',
      // Quick: 8 s streams cut after 3 s (was 10 s cut after 4 s), for the 5-minute budget; the
      // 5 s left after the cut let every system's clients be back before their stream ends.
      title: `reconnect storm: 1,000 clients × 10 events/s for ${full ? 30 : 8} s, all sockets cut at once after ${full ? 10 : 3} s`,
      clients: 1000,
      params: { mode: 'rate', count: full ? 300 : 80, perSecond: 10 },
      startDelayMs: 2_000,
      procs: 1,
      connectConcurrency: 100,
      connectTimeoutMs: 60_000,
      timeoutMs: full ? 120_000 : 40_000,
      dropAfterMs: full ? 10_000 : 3_000,
    },
    {
      id: 'S5',
      title: `chat turn: one client, demo agent at pace 0 (and the LLM agent against a scripted endpoint at zero delay), 1,000 sequential turns after 1,000 warm-up turns`,
      clients: 1,
      params: { mode: 'idle' },
      procs: 1,
      connectConcurrency: 1,
      connectTimeoutMs: 30_000,
      timeoutMs: full ? 300_000 : 120_000,
      turns: 1000,
      warmupTurns: 1000,
      // One user sending 100-300 messages/s is not what the default per-user limits (20
      // mutations/s, 100 WebSocket frames/s) are for: raised so that S5 measures turns only.
      tracewireEnv: {
        TRACEWIRE_MUTATIONS_PER_SECOND: '1000',
        TRACEWIRE_WS_FRAMES_PER_SECOND: '5000',
        TRACEWIRE_WS_FRAME_BURST: '5000',
      },
      systems: ['tracewire', 'tracewire-sampled10', 'tracewire-notrace', 'tracewire-llm'],
    },
  ];
}
