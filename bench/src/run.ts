import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, newSecret, type SystemResult } from './measure.js';
import { startOtlpSink } from './otlpSink.js';
import { plans, type ProfileName, type ScenarioId, type ScenarioPlan } from './profile.js';
import { AGENT_ONLY_SYSTEMS, SYSTEMS, type SystemName } from './protocol.js';
import { machineInfo, writeReport, type ScenarioReport } from './report.js';

/** `node bench/dist/run.js [--full] [--only S1,S3] [--systems raw-ws,trpc,...] [--cpu-prof]` */
function parseArgs(argv: string[]) {
  const value = (name: string) => {
    const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
    if (i < 0) return undefined;
    return argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
  };
  const list = (name: string) =>
    value(name)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const profile: ProfileName = argv.includes('--full') ? 'full' : 'quick';
  // The quick profile runs the five systems (under 5 minutes on 2 cores); the full one
  // adds the 10%-sampled variant. `--systems` picks any.
  const systems = (list('--systems') ??
    SYSTEMS.filter((s) => profile === 'full' || s !== 'tracewire-sampled10')) as SystemName[];
  const bad = systems.filter((s) => !(SYSTEMS as readonly string[]).includes(s));
  if (bad.length)
    throw new Error(`unknown systems: ${bad.join(', ')} (known: ${SYSTEMS.join(', ')})`);
  const only = list('--only')?.map((s) => s.toUpperCase() as ScenarioId);
  const cpuProf = argv.includes('--cpu-prof');
  return { profile, systems, only, cpuProf };
}

const fmt = (r: SystemResult) =>
  r.error
    ? `FAILED: ${r.error.split('\n')[0]}`
    : Object.entries(r.metrics)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');

async function main(): Promise<void> {
  const { profile, systems, only, cpuProf } = parseArgs(process.argv.slice(2));
  const cpuProfDir = cpuProf
    ? join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'profiles')
    : undefined;
  const started = Date.now();
  const secret = newSecret();
  const otlp = await startOtlpSink();
  const scenarios: ScenarioReport[] = [];
  const selected = plans(profile).filter((p) => !only || only.includes(p.id));
  process.stdout.write(
    `Tracewire bench, ${profile} profile: ${selected.map((p) => p.id).join(', ')} × ${systems.join(', ')}\n`,
  );
  for (const plan of selected) {
    process.stdout.write(`\n${plan.id} ${plan.title}\n`);
    const results: SystemResult[] = [];
    for (const system of systems) {
      if (!runs(plan, system)) continue;
      const t0 = Date.now();
      otlp.take();
      const r = await measure(plan, system, { secret, otlpUrl: otlp.url, cpuProfDir });
      if (system === 'tracewire' || system === 'tracewire-sampled10') {
        const sent = otlp.take();
        r.metrics['otlpRequests'] = sent.requests;
        r.metrics['otlpKB'] = Math.round(sent.bytes / 1024);
        r.metrics['otlpSpans'] = sent.spans;
      }
      results.push(r);
      process.stdout.write(
        `  ${system.padEnd(18)} ${fmt(r)} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
      );
      for (const n of r.notes) process.stdout.write(`  ${''.padEnd(18)} note: ${n}\n`);
    }
    scenarios.push({ id: plan.id, title: plan.title, plan, results });
  }
  await otlp.close();
  const files = writeReport({
    profile,
    date: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    machine: machineInfo(),
    systems,
    scenarios,
  });
  process.stdout.write(
    `\nWrote ${files.join(' and ')} in ${Math.round((Date.now() - started) / 1000)} s\n`,
  );
}

/** Whether a system takes part in a scenario. */
const runs = (plan: ScenarioPlan, system: SystemName) =>
  plan.systems ? plan.systems.includes(system) : !AGENT_ONLY_SYSTEMS.includes(system);

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
