import type { LoadArgs, LoadCommand, LoadMessage, LoadResult } from '../protocol.js';
import { watchLoopDelay } from '../loopDelay.js';
import { createHistogram } from '../stats.js';

/** The fields a load client reads from any system's event. */
export interface WireEvent {
  type: string;
  seq: number;
  ts: number;
}

/** What a system's driver gets for one client. */
export interface ClientContext {
  index: number;
  /** Stream (peer) or thread title (Tracewire) of this client, unique across processes. */
  streamId: string;
  args: LoadArgs;
  /** Every received frame goes here (deltas, the terminal event; anything else is ignored). */
  onEvent(ev: WireEvent): void;
  /** The connection opened again after a drop. */
  onReconnect(): void;
  /** Tracewire only: a `resync` reached the app. */
  onResync(): void;
}

/** One connected, subscribed client of a system. */
export interface BenchClient {
  /** Asks the server to start this client's stream (`chat.send` for Tracewire). */
  start(): Promise<void>;
  close(): void | Promise<void>;
}

/** A system's load client: connect, subscribe and wait until the subscription is live. */
export type Driver = (ctx: ClientContext) => Promise<BenchClient>;

const send = (m: LoadMessage) => process.send?.(m);

/**
 * Sends and resolves once the message is handed to the IPC channel: `process.exit` right
 * after a bare `send` can drop a large message (the result, with its histograms), and the
 * orchestrator would only see the process exit.
 */
const sendAndFlush = (m: LoadMessage) =>
  new Promise<void>((resolve) => {
    if (!process.send) return resolve();
    process.send(m, undefined, undefined, () => resolve());
  });

/** Reconnect delays shared by every client: full jitter, 100 ms · 2^attempt, capped at 1 s. */
export const RETRY = { baseMs: 100, maxMs: 1000 } as const;
/** {@link RETRY} as a function of the attempt number (0-based). */
export const retryDelay = (attempt: number) =>
  Math.random() * Math.min(RETRY.maxMs, RETRY.baseMs * 2 ** attempt);

/** Runs `fn` over 0..n-1 with at most `limit` in flight. */
export async function pool(
  n: number,
  limit: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

/** Waits for one IPC command from the orchestrator (or for its disappearance). */
function nextCommand(): Promise<LoadCommand> {
  return new Promise((resolve) => {
    const onMessage = (m: LoadCommand) => {
      process.off('message', onMessage);
      resolve(m);
    };
    process.on('message', onMessage);
  });
}

/**
 * The part every load process shares: connects the clients, reports, waits for `go`,
 * starts the streams, records receipts (latency, counts, duplicates, catch-up after a drop)
 * and sends one result. Custom runs (S5) pass `body` instead of waiting for streams.
 */
export async function runLoad(
  driver: Driver,
  body?: (clients: BenchClient[], r: LoadResult) => Promise<void>,
) {
  const args = JSON.parse(process.argv[2] ?? '{}') as LoadArgs;
  process.on('disconnect', () => process.exit(0));
  const hist = createHistogram();
  const result: LoadResult = {
    clients: args.clients,
    connectMs: 0,
    connectFailed: 0,
    received: 0,
    distinct: 0,
    expected: args.params.mode === 'rate' ? args.params.count * args.clients : 0,
    completed: 0,
    latency: hist.data,
    firstAt: 0,
    lastAt: 0,
    startedAt: 0,
    caughtUpAt: new Array<number>(args.clients).fill(0),
    reconnects: 0,
    resyncs: 0,
    cpuS: 0,
    loopDelayP99Ms: 0,
    errors: [],
  };
  const fail = (e: unknown) => {
    if (result.errors.length < 5) result.errors.push(e instanceof Error ? e.message : String(e));
  };
  let target = args.clients;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const clients: BenchClient[] = [];

  const t0 = performance.now();
  await pool(args.clients, args.connectConcurrency, async (i) => {
    const seen = new Set<number>();
    let reconnectedAt = 0;
    let completed = false;
    const ctx: ClientContext = {
      index: i,
      streamId: `s${args.offset + i}`,
      args,
      onEvent(ev) {
        const now = Date.now();
        if (ev.type === 'agent_completed' || ev.type === 'agent_error') {
          // A stream that ended before its client was back is caught up once its end arrives.
          if (reconnectedAt && !result.caughtUpAt[i]) result.caughtUpAt[i] = now;
          if (!completed && ++result.completed >= target) allDone();
          completed = true;
          return;
        }
        if (ev.type !== 'message_delta') return;
        hist.record(now - ev.ts);
        result.received++;
        if (!seen.has(ev.seq)) {
          seen.add(ev.seq);
          result.distinct++;
        }
        if (!result.firstAt) result.firstAt = now;
        result.lastAt = now;
        if (reconnectedAt && !result.caughtUpAt[i] && ev.ts >= reconnectedAt)
          result.caughtUpAt[i] = now;
      },
      onReconnect() {
        result.reconnects++;
        reconnectedAt = Date.now();
      },
      onResync() {
        result.resyncs++;
      },
    };
    try {
      clients.push(await driver(ctx));
    } catch (e) {
      result.connectFailed++;
      fail(e);
    }
  });
  result.connectMs = Math.round(performance.now() - t0);
  target = clients.length;
  send({ type: 'connected', connectMs: result.connectMs, failed: result.connectFailed });

  const cmd = await nextCommand();
  let stopped = cmd.type === 'stop';
  const cpuAtGo = process.cpuUsage();
  const loop = watchLoopDelay();
  if (cmd.type === 'go') {
    result.startedAt = Date.now();
    // Every client of every process starts its stream with the same `startAt`.
    if (cmd.startAt !== undefined && args.params.mode === 'rate')
      args.params = { ...args.params, startAt: cmd.startAt };
    if (body) {
      await body(clients, result).catch(fail);
    } else {
      await pool(clients.length, args.connectConcurrency, (i) => clients[i]!.start().catch(fail));
      if (clients.length === 0) allDone();
      const timer = setTimeout(allDone, args.timeoutMs);
      stopped = (await Promise.race([done.then(() => null), nextCommand()])) !== null;
      clearTimeout(timer);
    }
  }
  const cpu = process.cpuUsage(cpuAtGo);
  result.cpuS = (cpu.user + cpu.system) / 1e6;
  result.loopDelayP99Ms = loop.p99Ms();
  await sendAndFlush({ type: 'result', result });
  // Clients are closed only once every load process is done (the orchestrator says stop):
  // one process closing its clients must not load the server while others still measure.
  // Bounded, so a load process always ends by itself.
  if (!stopped) await Promise.race([nextCommand(), new Promise((r) => setTimeout(r, 60_000))]);
  await Promise.race([
    Promise.allSettled(clients.map(async (c) => c.close())),
    new Promise((r) => setTimeout(r, 3000)),
  ]);
  process.exit(0);
}
