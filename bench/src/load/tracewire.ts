import { createTracewireClient, type TracewireClient } from '@tracewire/client';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import type { LoadResult } from '../protocol.js';
import { createHistogram } from '../stats.js';
import { RETRY, runLoad, type BenchClient, type ClientContext } from './harness.js';

/** One chat turn's times (ms); `heldMs` ends when the request frame is written. */
interface TurnTimes {
  startedMs: number;
  completedMs: number;
  heldMs: number;
  startedAfterWriteMs: number;
}

/** A Tracewire bench client plus what S5 needs: one chat turn, timed. */
interface TracewireBenchClient extends BenchClient {
  turn(content: string): Promise<TurnTimes>;
}

const S5_MESSAGE = 'what is 2 + 3 * (4 - 1)? and what time is it?';

/** Signs a user token as any identity provider would (HS256, `sub` = user id). */
function userToken(secret: string, userId: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));
}

/** When the client last wrote a `chat.send` request frame (performance.now). */
interface WriteClock {
  sendWrittenAt: number;
}

/**
 * S5: `ws` with the time each `chat.send` frame is written, so a turn splits into the client
 * library's hold before the write and everything after it.
 */
function timedWebSocket(clock: WriteClock): typeof WebSocket {
  return class TimedWebSocket extends WebSocket {
    override send(data: unknown, ...rest: unknown[]): void {
      if (typeof data === 'string' && data.includes('"chat.send"'))
        clock.sendWrittenAt = performance.now();
      (super.send as (...a: unknown[]) => void)(data, ...rest);
    }
  };
}

/** Tracewire through its SDK: one user, one thread and one live thread stream per client. */
async function connect(ctx: ClientContext): Promise<TracewireBenchClient> {
  const { args } = ctx;
  let opened = false;
  const clock: WriteClock = { sendWrittenAt: Number.NaN };
  const client: TracewireClient = createTracewireClient({
    url: `http://127.0.0.1:${args.port}`,
    token: await userToken(args.secret, `bench-${args.offset + ctx.index}`),
    WebSocket: args.turns ? timedWebSocket(clock) : WebSocket,
    // One connection per client for calls and events, as every peer here has (the SDK's
    // default, 'ws+http', adds an HTTP keep-alive connection for mutations).
    transport: 'ws',
    retry: RETRY,
    onConnectionStateChange: (c) => {
      if (c.state !== 'pending') return;
      if (opened) ctx.onReconnect();
      opened = true;
    },
  });
  const thread = await client.trpc.chat.createThread.mutate({ title: ctx.streamId });
  const stream = client.events(thread.id);
  if (!(await stream.ready)) throw new Error('thread stream ended before it was ready');
  /** S5: arrival times (performance.now) of each run's start and end. */
  const marks = new Map<string, { started?: number; completed?: number; done?: () => void }>();
  const mark = (runId: string) => marks.get(runId) ?? marks.set(runId, {}).get(runId)!;
  void (async () => {
    for await (const ev of stream) {
      if (ev.type === 'resync') {
        ctx.onResync();
        continue;
      }
      ctx.onEvent(ev);
      if (!args.turns) continue;
      if (ev.type === 'agent_started') mark(ev.runId).started = performance.now();
      if (ev.type === 'agent_completed' || ev.type === 'agent_error') {
        const m = mark(ev.runId);
        m.completed = performance.now();
        m.done?.();
      }
    }
  })();
  return {
    start: async () => {
      await client.send(thread.id, JSON.stringify(args.params));
    },
    async turn(content) {
      const t0 = performance.now();
      clock.sendWrittenAt = Number.NaN;
      const { run } = await client.send(thread.id, content);
      const written = clock.sendWrittenAt;
      const m = mark(run.id);
      if (m.completed === undefined) await new Promise<void>((resolve) => (m.done = resolve));
      marks.delete(run.id);
      return {
        startedMs: m.started! - t0,
        completedMs: m.completed! - t0,
        heldMs: written - t0,
        startedAfterWriteMs: m.started! - written,
      };
    },
    close: () => client.close(),
  };
}

/** S5: sequential chat turns on one client with the demo agent, after the warm-up turns. */
async function chatTurns(clients: BenchClient[], result: LoadResult): Promise<void> {
  const client = clients[0] as TracewireBenchClient | undefined;
  if (!client) throw new Error('no client connected');
  const warmup = createHistogram();
  const started = createHistogram();
  const completed = createHistogram();
  const held = createHistogram();
  const afterWrite = createHistogram();
  result.turnWarmupStarted = warmup.data;
  result.turnStarted = started.data;
  result.turnCompleted = completed.data;
  result.turnHeld = held.data;
  result.turnStartedAfterWrite = afterWrite.data;
  // Sub-millisecond resolution: these histograms are in tenths of a millisecond.
  const { turns, warmupTurns } = turnArgs();
  let failures = 0;
  for (let i = 0; i < warmupTurns + turns && failures < 10; i++) {
    try {
      const t = await client.turn(S5_MESSAGE);
      if (i < warmupTurns) {
        warmup.record(t.startedMs * 10);
        continue;
      }
      started.record(t.startedMs * 10);
      completed.record(t.completedMs * 10);
      // Split only when the request frame's write was seen (always, over the 'ws' transport).
      if (Number.isFinite(t.heldMs)) {
        held.record(t.heldMs * 10);
        afterWrite.record(t.startedAfterWriteMs * 10);
      }
    } catch (e) {
      failures++;
      if (result.errors.length < 5)
        result.errors.push(`turn ${i}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

const turnArgs = () => {
  const a = JSON.parse(process.argv[2] ?? '{}') as { turns?: number; warmupTurns?: number };
  return { turns: a.turns ?? 0, warmupTurns: a.warmupTurns ?? 0 };
};

await runLoad(connect, turnArgs().turns ? chatTurns : undefined);
