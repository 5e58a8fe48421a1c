import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SystemResult } from './measure.js';
import type { ProfileName, ScenarioId, ScenarioPlan } from './profile.js';
import type { SystemName } from './protocol.js';

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One scenario's plan and every system's figures. */
export interface ScenarioReport {
  id: ScenarioId;
  title: string;
  plan: ScenarioPlan;
  results: SystemResult[];
}

/** A whole run, as written to `bench/results/*.json`. */
export interface RunReport {
  profile: ProfileName;
  date: string;
  durationS: number;
  machine: ReturnType<typeof machineInfo>;
  systems: SystemName[];
  scenarios: ScenarioReport[];
}

/** The machine the figures come from. */
export function machineInfo() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGB: Math.round(freemem() / 2 ** 30),
    loadAvg1mAtStart: Math.round(loadavg()[0]! * 100) / 100,
    node: process.version,
    os: `${process.platform} ${release()}`,
  };
}

/** Per scenario: the columns shown, the headline metric and whether lower is better. */
const VIEW: Record<ScenarioId, { columns: string[]; headline: string; lowerIsBetter: boolean }> = {
  S1: {
    columns: [
      'eventsPerSec',
      'delivered',
      'cpuS',
      'cpuSPer100k',
      'p50Ms',
      'p99Ms',
      'rssEndMB',
      'streamsCompleted',
      'clientCpuS',
    ],
    headline: 'eventsPerSec',
    lowerIsBetter: false,
  },
  S2: {
    columns: [
      'p50Ms',
      'p99Ms',
      'p999Ms',
      'maxMs',
      'expected',
      'lost',
      'duplicated',
      'eventsPerSec',
      'cpuS',
      'clientCpuS',
      'serverLoopP99Ms',
      'clientLoopP99Ms',
    ],
    headline: 'p99Ms',
    lowerIsBetter: true,
  },
  S3: {
    columns: [
      'connected',
      'connectMs',
      'rssIdleMB',
      'rssHeldMB',
      'rssPerConnKB',
      'heapPerConnKB',
      'connectCpuS',
    ],
    headline: 'rssPerConnKB',
    lowerIsBetter: true,
  },
  S4: {
    columns: [
      'recoverMs',
      'recoverP50Ms',
      'clientsCaughtUp',
      'expected',
      'lost',
      'duplicated',
      'reconnects',
      'resyncs',
      'socketsCut',
    ],
    headline: 'recoverMs',
    lowerIsBetter: true,
  },
  S5: {
    columns: [
      'turns',
      'startedP50Ms',
      'startedP99Ms',
      'completedP50Ms',
      'completedP99Ms',
      'clientHoldP50Ms',
      'clientHoldP99Ms',
      'startedAfterWriteP50Ms',
      'startedAfterWriteP99Ms',
      'warmupTurns',
      'warmupStartedP50Ms',
      'warmupStartedP99Ms',
    ],
    headline: 'startedP99Ms',
    lowerIsBetter: true,
  },
};

const LABEL: Record<SystemName, string> = {
  'raw-ws': 'raw ws',
  trpc: 'plain tRPC v11',
  socketio: 'Socket.IO 4 (CSR)',
  tracewire: 'Tracewire',
  'tracewire-sampled10': 'Tracewire, 10% sampled',
  'tracewire-notrace': 'Tracewire, tracing off',
  'tracewire-llm': 'Tracewire, LLM agent (scripted endpoint, zero delay)',
};

const get = (s: ScenarioReport, sys: SystemName, k: string) => {
  const r = s.results.find((x) => x.system === sys);
  return r && !r.error ? (r.metrics[k] ?? null) : null;
};
const ratio = (a: number | null, b: number | null) =>
  a !== null && b !== null && b !== 0 ? `${(a / b).toFixed(2)}×` : '–';
const cell = (v: number | null | undefined) =>
  v === null || v === undefined ? '–' : v.toLocaleString('en-US');

function table(s: ScenarioReport, systems: readonly SystemName[]): string[] {
  const { columns, headline } = VIEW[s.id];
  const head = ['system', ...columns, `${headline} ÷ raw ws`];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of s.results) {
    const row = r.error
      ? [
          `**failed**: ${r.error.split('\n')[0]!.slice(0, 160)}`,
          ...columns.slice(1).map(() => ''),
          '',
        ]
      : [
          ...columns.map((c) => cell(r.metrics[c])),
          ratio(get(s, r.system, headline), get(s, 'raw-ws', headline)),
        ];
    lines.push(`| ${LABEL[r.system]} | ${row.join(' | ')} |`);
  }
  const skipped = systems.filter((sys) => s.plan.systems && !s.plan.systems.includes(sys));
  for (const sys of skipped) {
    // Not skipped silently: the peers have no agent platform to run a chat turn on.
    const row = ['not applicable (no agent runtime)', ...columns.slice(1).map(() => ''), ''];
    lines.push(`| ${LABEL[sys]} | ${row.join(' | ')} |`);
  }
  if (skipped.length > 0) {
    lines.push('', `Peers: not applicable (${s.id} measures an agent platform's chat turn).`);
  } else if (s.results.some((r) => r.system === 'tracewire')) {
    lines.push(
      '',
      `Tracewire ${headline}: ${ratio(get(s, 'tracewire', headline), get(s, 'trpc', headline))} plain tRPC, ` +
        `${ratio(get(s, 'tracewire', headline), get(s, 'socketio', headline))} Socket.IO, ` +
        `${ratio(get(s, 'tracewire', headline), get(s, 'raw-ws', headline))} raw ws` +
        (VIEW[s.id].lowerIsBetter ? ' (lower is better).' : ' (higher is better).'),
    );
  }
  if (s.id === 'S1') lines.push(...tracingOverhead(s));
  lines.push(...exportedSpans(s));
  if (s.id === 'S5') {
    lines.push(...llmTurn(s));
    lines.push(
      '',
      '`clientHold`: from `client.send()` until the client writes the request frame; ' +
        '`startedAfterWrite`: from that write to `agent_started` arriving. Each is its own ' +
        'percentile, so they need not add up. The `warmup` turns are sent first, on the same ' +
        'client and thread, and kept out of every other figure: their send → `agent_started` ' +
        'is the cold server (code not yet optimised by the JIT).',
    );
  }
  const notes = s.results.flatMap((r) => r.notes.map((n) => `- ${LABEL[r.system]}: ${n}`));
  return notes.length ? [...lines, '', ...notes] : lines;
}

/** S5: the LLM agent's turn beside the demo's, both on the full platform. */
function llmTurn(s: ScenarioReport): string[] {
  const llm = get(s, 'tracewire-llm', 'completedP50Ms');
  const demo = get(s, 'tracewire', 'completedP50Ms');
  if (llm === null || demo === null) return [];
  return [
    '',
    `LLM agent turn (two model calls to a scripted endpoint answering at once, one calculator ` +
      `call, the answer streamed): send → \`agent_completed\` p50 ${cell(llm)} ms, p99 ` +
      `${cell(get(s, 'tracewire-llm', 'completedP99Ms'))} ms, beside the demo agent's ${cell(demo)} ms / ` +
      `${cell(get(s, 'tracewire', 'completedP99Ms'))} ms: the platform's own cost of a ` +
      `model-driven turn (the HTTP client, SSE parsing, the tool loop, spans), not a model's.`,
  ];
}

/** What tracing costs in S1: CPU per 100k events and events/s at 100 %, 10 % and off. */
function tracingOverhead(s: ScenarioReport): string[] {
  const off = get(s, 'tracewire-notrace', 'cpuSPer100k');
  const rows = (['tracewire', 'tracewire-sampled10'] as const)
    .map((sys) => ({ sys, cpu: get(s, sys, 'cpuSPer100k'), eps: get(s, sys, 'eventsPerSec') }))
    .filter((r) => r.cpu !== null);
  if (off === null || rows.length === 0) return [];
  const parts = rows.map(
    (r) =>
      `${r.sys === 'tracewire' ? 'every trace' : '10% of traces'}: ${cell(r.cpu)} s (+${Math.round(((r.cpu! - off) / off) * 100)}%), ${cell(r.eps)} events/s`,
  );
  return [
    '',
    `Tracing overhead (server CPU s per 100k events; tracing off: ${cell(off)} s, ${cell(get(s, 'tracewire-notrace', 'eventsPerSec'))} events/s): ${parts.join('; ')}.`,
  ];
}

/**
 * Spans the loopback OTLP receiver got per delivered event, and the events the server published
 * past its per-event span budget: fewer spans than events within the budget means the SDK's
 * batch span processor dropped spans (past its 2,048-span queue). Reported, not hidden.
 */
function exportedSpans(s: ScenarioReport): string[] {
  const parts = (['tracewire', 'tracewire-sampled10'] as const).flatMap((sys) => {
    const spans = get(s, sys, 'otlpSpans');
    const delivered = get(s, sys, 'delivered');
    if (spans === null || !delivered) return [];
    const skipped = get(s, sys, 'eventSpansSkipped');
    const over = skipped ? `, ${cell(skipped)} events over the span budget` : '';
    return [`${LABEL[sys]} ${(spans / delivered).toFixed(2)} (${cell(spans)} spans${over})`];
  });
  if (parts.length === 0) return [];
  return [
    '',
    `OTLP spans received per delivered event: ${parts.join('; ')}. Each event has its own ` +
      'PRODUCER span up to the budget (`TRACEWIRE_EVENT_SPANS_PER_SECOND`, 10,000/s; past it ' +
      "an event links to its run's span), so with every trace sampled, fewer spans than " +
      "events within the budget means the SDK dropped spans (its batch processor's queue " +
      'holds 2,048).',
  ];
}

type Verdict = { target: string; now: string; met: boolean | null };

function targets(report: RunReport): Verdict[] {
  const s = (id: ScenarioId) => report.scenarios.find((x) => x.id === id);
  const out: Verdict[] = [];
  const tw = (id: ScenarioId, k: string) => {
    const sc = s(id);
    return sc ? get(sc, 'tracewire', k) : null;
  };
  const known = (...xs: (number | null)[]) => xs.every((x) => x !== null);
  const s1 = s('S1');
  if (s1) {
    const t = tw('S1', 'eventsPerSec');
    const peers = Math.max(
      get(s1, 'trpc', 'eventsPerSec') ?? 0,
      get(s1, 'socketio', 'eventsPerSec') ?? 0,
    );
    const raw = get(s1, 'raw-ws', 'eventsPerSec');
    out.push({
      target: 'S1: Tracewire events/s ≥ the faster of plain tRPC and Socket.IO (then 0.75× raw ws)',
      now: `${cell(t)} vs ${cell(peers)} (${ratio(t, peers)}); ${ratio(t, raw)} raw ws`,
      met: known(t) && peers > 0 ? t! >= peers : null,
    });
  }
  if (s('S2')) {
    const p99 = tw('S2', 'p99Ms');
    const lost = tw('S2', 'lost');
    out.push({
      target: 'S2: p99 ≤ 25 ms, 0 lost',
      now: `p99 ${cell(p99)} ms, ${cell(lost)} lost`,
      met: known(p99, lost) ? p99! <= 25 && lost === 0 : null,
    });
  }
  if (s('S3')) {
    const kb = tw('S3', 'rssPerConnKB');
    const n = tw('S3', 'connected');
    out.push({
      target: `S3: ≤ 30 KB RSS per idle connection, 10,000 held${report.profile === 'quick' ? ' (quick profile holds 5,000)' : ''}`,
      now: `${cell(kb)} KB, ${cell(n)} held`,
      met: known(kb, n) ? kb! <= 30 && n! >= 10_000 : null,
    });
  }
  if (s('S4')) {
    const ms = tw('S4', 'recoverMs');
    const lost = tw('S4', 'lost');
    const dup = tw('S4', 'duplicated');
    out.push({
      target: 'S4: every client resumed and caught up within 5 s, 0 lost, 0 duplicated',
      now: `${cell(ms)} ms, ${cell(lost)} lost, ${cell(dup)} duplicated`,
      met: known(ms, lost, dup) ? ms! <= 5000 && lost === 0 && dup === 0 : null,
    });
  }
  if (s('S5')) {
    const p99 = tw('S5', 'startedP99Ms');
    out.push({
      target: 'S5: p99 send → agent_started ≤ 5 ms',
      now: `${cell(p99)} ms`,
      met: known(p99) ? p99! <= 5 : null,
    });
  }
  return out;
}

function markdown(report: RunReport): string {
  const m = report.machine;
  const lines = [
    '# Tracewire benchmark results',
    '',
    `Generated by \`npm run bench${report.profile === 'full' ? ' -- --full' : ''}\` (${report.profile} profile) on ${report.date}, in ${report.durationS} s.`,
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB RAM, ${m.os}; Node ${m.node}; 1-minute load average at start ${m.loadAvg1mAtStart}.`,
    '',
    'Every system runs in its own server process on 127.0.0.1 (port 0), driven by load generator processes through',
    'its own client (`ws`, `@trpc/client`, `socket.io-client`, `@tracewire/client`), with the same ~150-byte',
    '`message_delta` event, the same counts and the same reconnect backoff (full jitter, 100 ms · 2^n, ≤ 1 s).',
    "Latency is the event's creation time on the server to its receipt by the client (same clock, ms resolution).",
    'Server CPU comes from `process.cpuUsage()` of the server process, client CPU (`clientCpuS`) from the load processes from the start of the streams; RSS after a forced GC.',
    "S3's `heapPerConnKB` is the V8 heap in use per connection: the JavaScript objects' part of the RSS.",
    "S2's `serverLoopP99Ms` and `clientLoopP99Ms` are how late the server's and the load process's event loops ran a due timer (p99, sampled every 10 ms): where a latency tail was spent.",
    'Tracewire runs with auth, the SQLite event log and its default delivery settings, and its clients use the',
    "SDK's WebSocket-only transport (calls and events on one connection per client, as with every peer);",
    '"Tracewire" exports traces (default sampling: every trace) to a loopback OTLP receiver that discards them, "10% sampled" sets',
    '`OTEL_TRACES_SAMPLER=parentbased_traceidratio` and `OTEL_TRACES_SAMPLER_ARG=0.1`, "tracing off" sets `OTEL_SDK_DISABLED=true`.',
    'Peers keep no log: what they lose across a drop is reported as lost, not skipped (Socket.IO replays through',
    'connection state recovery). In S2 and S4 every stream is started at `go` and all begin producing together 2 s',
    'later, so setting up a thousand streams (a `chat.send` each for Tracewire) is not counted as event latency.',
    'Figures on a shared 2-core machine are noisy: compare systems within one run.',
    ...(report.profile === 'quick'
      ? [
          '',
          'Quick profile sizes (to fit five systems in about 5 minutes): S2 runs 5 s and S4 8 s streams cut after 3 s',
          '(the issue and `--full` use longer runs), S3 holds 5,000 connections instead of 10,000.',
        ]
      : []),
    '',
    '## Targets (issue 6)',
    '',
    '| target | Tracewire now | met |',
    '|---|---|---|',
    ...targets(report).map(
      (t) =>
        `| ${t.target} | ${t.now} | ${t.met === null ? 'not measured' : t.met ? 'yes' : 'no'} |`,
    ),
  ];
  for (const s of report.scenarios)
    lines.push('', `## ${s.id}: ${s.title}`, '', ...table(s, report.systems));
  return `${lines.join('\n')}\n`;
}

/** Writes `bench/results/<date>-<profile>.json` and overwrites `bench/RESULTS.md`; returns the paths. */
export function writeReport(report: RunReport): string[] {
  const dir = join(BENCH, 'results');
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${report.date.replace(/[:.]/g, '-')}-${report.profile}.json`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  const md = join(BENCH, 'RESULTS.md');
  writeFileSync(md, markdown(report));
  return [json, md].map((p) => relative(process.cwd(), p));
}
