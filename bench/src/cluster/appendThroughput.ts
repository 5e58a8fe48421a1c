/**
 * Throughput of the Redis event log's append script on this machine's Redis, one event per
 * script call and batched, as the baseline for the cluster benchmarks. Prints a table; asserts
 * nothing. `npm run bench:cluster-append` (Redis from TRACEWIRE_REDIS_URL, else 127.0.0.1:6379).
 */
import { randomBytes } from 'node:crypto';
import { openRedisEventLog, type AgentEventDraft, type RedisEventLog } from '@tracewire/server';
import { createRunId, createThreadId, type ThreadId } from '@tracewire/shared';
import { Redis } from 'ioredis';

const url = process.env['TRACEWIRE_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `twbench:${randomBytes(4).toString('hex')}:`;

function drafts(threadId: ThreadId, n: number): AgentEventDraft[] {
  const runId = createRunId();
  return Array.from({ length: n }, (_, i) => ({
    type: 'message_delta' as const,
    threadId,
    runId,
    ts: Date.now(),
    delta: `chunk ${i} of an answer, about as long as a model's delta`,
  }));
}

/** Events per second over `seconds` of `step` (which appends `perStep` events). */
async function rate(seconds: number, perStep: number, step: () => Promise<unknown>) {
  const end = performance.now() + seconds * 1000;
  let events = 0;
  const started = performance.now();
  while (performance.now() < end) {
    await step();
    events += perStep;
  }
  return events / ((performance.now() - started) / 1000);
}

async function measure(log: RedisEventLog) {
  const rows: [string, number][] = [];
  const one = createThreadId();
  rows.push([
    '1 event per script, one at a time',
    await rate(3, 1, () => log.append(one, drafts(one, 1))),
  ]);
  for (const batch of [16, 64]) {
    const t = createThreadId();
    rows.push([
      `${batch} events per script, one at a time`,
      await rate(3, batch, () => log.append(t, drafts(t, batch))),
    ]);
  }
  // What a busy instance does: many threads appending in the same turn, one script each, one pipeline.
  for (const threads of [50, 200]) {
    const ids = Array.from({ length: threads }, () => createThreadId());
    rows.push([
      `${threads} threads x 1 event per turn (one pipeline)`,
      await rate(3, threads, () => Promise.all(ids.map((t) => log.append(t, drafts(t, 1))))),
    ]);
    rows.push([
      `${threads} threads x 16 events per turn (one pipeline)`,
      await rate(3, threads * 16, () => Promise.all(ids.map((t) => log.append(t, drafts(t, 16))))),
    ]);
  }
  return rows;
}

async function main() {
  const log = await openRedisEventLog({ url, prefix, retention: { maxEventsPerThread: 10_000 } });
  try {
    const rows = await measure(log);
    process.stdout.write(`Redis event log append throughput (${url}, node ${process.version})\n`);
    for (const [what, perSecond] of rows)
      process.stdout.write(
        `  ${what.padEnd(48)} ${Math.round(perSecond).toLocaleString('en')} events/s\n`,
      );
  } finally {
    await log.close();
    const redis = new Redis(url);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

await main();
