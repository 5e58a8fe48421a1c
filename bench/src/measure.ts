import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScenarioPlan } from './profile.js';
import { startNode, type NodeProcess } from './proc.js';
import type {
  LoadArgs,
  LoadCommand,
  LoadMessage,
  LoadResult,
  ServerCommand,
  ServerMessage,
  SystemName,
} from './protocol.js';
import { mergeHistogram, summarize, type Histogram } from './stats.js';
import { eventSpansSkipped } from './serverMetrics.js';

const DIST = dirname(fileURLToPath(import.meta.url));

/** One system's figures in one scenario (null = not measured / not applicable). */
export interface SystemResult {
  system: SystemName;
  ok: boolean;
  error?: string;
  metrics: Record<string, number | null>;
  notes: string[];
}

type Server = NodeProcess<ServerCommand, ServerMessage>;
type Load = NodeProcess<LoadCommand, LoadMessage>;

/** Environment of the server under test. */
export interface MeasureEnv {
  secret: string;
  /** Loopback OTLP receiver for the traced Tracewire run. */
  otlpUrl: string;
  /** When set, servers run with `--cpu-prof` and write their profiles under this directory. */
  cpuProfDir?: string | undefined;
}

/** Where the load generator of each system lives (the Tracewire variants share the SDK client). */
const loadFile = (s: SystemName) =>
  join(DIST, 'load', `${s.startsWith('tracewire') ? 'tracewire' : s}.js`);

function serverEnv(system: SystemName, env: MeasureEnv): NodeJS.ProcessEnv {
  if (!system.startsWith('tracewire')) return {};
  return {
    NODE_ENV: 'production',
    TRACEWIRE_AUTH_SECRET: env.secret,
    TRACEWIRE_LOG_LEVEL: 'warn',
    TRACEWIRE_AGENT_PACE_MS: '0',
    ...(system === 'tracewire-notrace'
      ? { OTEL_SDK_DISABLED: 'true' }
      : { OTEL_EXPORTER_OTLP_ENDPOINT: env.otlpUrl, OTEL_SDK_DISABLED: 'false' }),
  };
}

const cpuSeconds = (m: Extract<ServerMessage, { type: 'stats' }>) =>
  (m.cpuUserUs + m.cpuSystemUs) / 1e6;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Merges the load processes' results into one. */
function mergeResults(parts: LoadResult[]): LoadResult & { latencyAll: Histogram } {
  const latencyAll: Histogram = {};
  const sum = (
    k:
      | 'received'
      | 'distinct'
      | 'expected'
      | 'completed'
      | 'reconnects'
      | 'resyncs'
      | 'connectFailed'
      | 'cpuS',
  ) => parts.reduce((s, p) => s + p[k], 0);
  for (const p of parts) mergeHistogram(latencyAll, p.latency);
  const nz = (xs: number[]) => xs.filter((x) => x > 0);
  return {
    ...parts[0]!,
    clients: parts.reduce((s, p) => s + p.clients, 0),
    connectMs: Math.max(...parts.map((p) => p.connectMs)),
    connectFailed: sum('connectFailed'),
    received: sum('received'),
    distinct: sum('distinct'),
    expected: sum('expected'),
    completed: sum('completed'),
    reconnects: sum('reconnects'),
    resyncs: sum('resyncs'),
    cpuS: sum('cpuS'),
    loopDelayP99Ms: Math.max(...parts.map((p) => p.loopDelayP99Ms)),
    firstAt: Math.min(...nz(parts.map((p) => p.firstAt)), Infinity),
    lastAt: Math.max(0, ...parts.map((p) => p.lastAt)),
    startedAt: Math.min(...nz(parts.map((p) => p.startedAt)), Infinity),
    caughtUpAt: parts.flatMap((p) => p.caughtUpAt),
    errors: parts.flatMap((p) => p.errors),
    latency: latencyAll,
    latencyAll,
  };
}

/**
 * Runs one scenario against one system: its server in its own process, the load in
 * others, every step bounded in time. Never throws: a failure is recorded in the result.
 */
export async function measure(
  plan: ScenarioPlan,
  system: SystemName,
  env: MeasureEnv,
): Promise<SystemResult> {
  const out: SystemResult = { system, ok: false, metrics: {}, notes: [] };
  let server: Server | null = null;
  const loads: Load[] = [];
  try {
    server = startNode<ServerCommand, ServerMessage>({
      file: join(DIST, 'servers', `${system}.js`),
      args: plan.id === 'S5' ? ['--default-agents'] : [],
      env: {
        ...serverEnv(system, env),
        ...(system.startsWith('tracewire') ? plan.tracewireEnv : {}),
      },
      execArgv: [
        '--expose-gc',
        ...(env.cpuProfDir
          ? ['--cpu-prof', `--cpu-prof-dir=${join(env.cpuProfDir, `${plan.id}-${system}`)}`]
          : []),
      ],
    });
    const { port } = await server.waitFor('ready', 20_000);
    const stats = async (gc = false) => {
      server!.send({ type: 'stats', gc });
      // A heap snapshot (`BENCH_HEAP_SNAPSHOT=1`) of 10,000 connections takes far longer than 10 s.
      return server!.waitFor(
        'stats',
        process.env['BENCH_HEAP_SNAPSHOT'] === '1' ? 300_000 : 10_000,
      );
    };
    const idle = await stats(true);

    const perProc = Math.ceil(plan.clients / plan.procs);
    for (let offset = 0; offset < plan.clients; offset += perProc) {
      const args: LoadArgs = {
        system,
        port,
        clients: Math.min(perProc, plan.clients - offset),
        offset,
        params: plan.params,
        secret: env.secret,
        connectConcurrency: Math.ceil(plan.connectConcurrency / plan.procs),
        timeoutMs: plan.timeoutMs,
        ...(plan.turns ? { turns: plan.turns, warmupTurns: plan.warmupTurns ?? 0 } : {}),
      };
      loads.push(
        startNode<LoadCommand, LoadMessage>({
          file: loadFile(system),
          args: [JSON.stringify(args)],
        }),
      );
    }
    const connected = await Promise.all(
      loads.map((l) => l.waitFor('connected', plan.connectTimeoutMs)),
    );
    const failed = connected.reduce((s, c) => s + c.failed, 0);
    out.metrics['connectMs'] = Math.max(...connected.map((c) => c.connectMs));
    out.metrics['connected'] = plan.clients - failed;

    if (plan.id === 'S3') {
      const held = await stats(true);
      out.metrics['rssIdleMB'] = round(idle.rss / 2 ** 20, 1);
      out.metrics['rssHeldMB'] = round(held.rss / 2 ** 20, 1);
      const perConnKB = (grew: number) =>
        round(grew / 1024 / Math.max(1, plan.clients - failed), 1);
      out.metrics['rssPerConnKB'] = perConnKB(held.rss - idle.rss);
      out.metrics['heapPerConnKB'] = perConnKB(held.heapUsed - idle.heapUsed);
      out.metrics['connectCpuS'] = round(cpuSeconds(held) - cpuSeconds(idle));
      loads.forEach((l) => l.send({ type: 'stop' }));
    } else {
      const before = await stats();
      const startDelayMs = plan.startDelayMs ?? 0;
      const startAt = Date.now() + startDelayMs;
      loads.forEach((l) => l.send({ type: 'go', ...(startDelayMs ? { startAt } : {}) }));
      let droppedAt = 0;
      const dropAfterMs = plan.dropAfterMs;
      if (dropAfterMs) {
        await new Promise((r) => setTimeout(r, startDelayMs + dropAfterMs));
        server.send({ type: 'drop' });
        const dropped = await server.waitFor('dropped', 10_000);
        droppedAt = dropped.at;
        out.metrics['socketsCut'] = dropped.sockets;
      }
      const results = await Promise.all(
        loads.map((l) => l.waitFor('result', plan.timeoutMs + 15_000)),
      );
      const after = await stats();
      const r = mergeResults(results.map((m) => m.result));
      fillMetrics(out, plan, r, {
        cpuS: cpuSeconds(after) - cpuSeconds(before),
        droppedAt,
        rss: after.rss,
        loopDelayP99Ms: after.loopDelayP99Ms,
      });
      if (system === 'tracewire' || system === 'tracewire-sampled10')
        out.metrics['eventSpansSkipped'] = await eventSpansSkipped(port);
    }
    const results =
      plan.id === 'S3' ? await Promise.all(loads.map((l) => l.waitFor('result', 15_000))) : [];
    const errors = [...new Set(results.flatMap((m) => m.result.errors))];
    if (failed > 0) out.notes.push(`${failed} clients failed to connect`);
    out.ok = failed === 0;
    for (const e of errors.slice(0, 3)) out.notes.push(`client error: ${e}`);
  } catch (e) {
    out.error = e instanceof Error ? e.message : String(e);
  } finally {
    // Load processes close their clients now (up to 3 s), then exit.
    await Promise.all(loads.map((l) => l.stop({ type: 'stop' }, 6_000)));
    await server?.stop({ type: 'exit' }, 5000);
  }
  return out;
}

function fillMetrics(
  out: SystemResult,
  plan: ScenarioPlan,
  r: ReturnType<typeof mergeResults>,
  ctx: { cpuS: number; droppedAt: number; rss: number; loopDelayP99Ms: number },
): void {
  const m = out.metrics;
  const lat = summarize(r.latencyAll);
  const elapsedS = Math.max(0.001, (r.lastAt - r.startedAt) / 1000);
  m['delivered'] = r.received;
  m['eventsPerSec'] = Math.round(r.received / elapsedS);
  m['cpuS'] = round(ctx.cpuS);
  m['cpuSPer100k'] = r.received ? round((ctx.cpuS / r.received) * 1e5, 3) : null;
  // The clients share the machine's cores with the server: a heavy client slows both.
  m['clientCpuS'] = round(r.cpuS);
  // Where a latency tail comes from: which side's event loop was late to run its callbacks.
  m['serverLoopP99Ms'] = ctx.loopDelayP99Ms;
  m['clientLoopP99Ms'] = r.loopDelayP99Ms;
  m['rssEndMB'] = round(ctx.rss / 2 ** 20, 1);
  m['p50Ms'] = lat?.p50 ?? null;
  m['p99Ms'] = lat?.p99 ?? null;
  m['p999Ms'] = lat?.p999 ?? null;
  m['maxMs'] = lat?.max ?? null;
  m['streamsCompleted'] = r.completed;
  m['reconnects'] = r.reconnects;
  m['resyncs'] = r.resyncs;
  for (const e of r.errors.slice(0, 3)) out.notes.push(`client error: ${e}`);
  if (plan.params.mode === 'rate') {
    m['expected'] = r.expected;
    m['lost'] = r.expected - r.distinct;
    m['duplicated'] = r.received - r.distinct;
  }
  if (plan.id === 'S4') {
    const caught = r.caughtUpAt.filter((t) => t > 0);
    m['clientsCaughtUp'] = caught.length;
    m['recoverMs'] =
      caught.length === r.caughtUpAt.length ? Math.max(...caught) - ctx.droppedAt : null;
    m['recoverP50Ms'] = caught.length
      ? caught.sort((a, b) => a - b)[Math.floor(caught.length / 2)]! - ctx.droppedAt
      : null;
  }
  if (plan.id === 'S5') {
    const started = summarize(r.turnStarted ?? {});
    const completed = summarize(r.turnCompleted ?? {});
    m['turns'] = started?.count ?? 0;
    m['startedP50Ms'] = started ? started.p50 / 10 : null;
    m['startedP99Ms'] = started ? started.p99 / 10 : null;
    m['completedP50Ms'] = completed ? completed.p50 / 10 : null;
    m['completedP99Ms'] = completed ? completed.p99 / 10 : null;
    // The part before the request frame is written is the client library's own.
    const held = summarize(r.turnHeld ?? {});
    const afterWrite = summarize(r.turnStartedAfterWrite ?? {});
    m['clientHoldP50Ms'] = held ? held.p50 / 10 : null;
    m['clientHoldP99Ms'] = held ? held.p99 / 10 : null;
    m['startedAfterWriteP50Ms'] = afterWrite ? afterWrite.p50 / 10 : null;
    m['startedAfterWriteP99Ms'] = afterWrite ? afterWrite.p99 / 10 : null;
    const warmup = summarize(r.turnWarmupStarted ?? {});
    m['warmupTurns'] = warmup?.count ?? 0;
    m['warmupStartedP50Ms'] = warmup ? warmup.p50 / 10 : null;
    m['warmupStartedP99Ms'] = warmup ? warmup.p99 / 10 : null;
  }
  if (r.completed < r.clients && plan.id !== 'S5')
    out.notes.push(`${r.clients - r.completed} streams did not complete in time`);
}

/** A fresh random HS256 secret per run. */
export const newSecret = () => randomBytes(32).toString('hex');
