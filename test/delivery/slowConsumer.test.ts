import { CLOSE_CODES, createClientMessageId, type AgentEvent } from '@tracewire/shared';
import { expect, test } from 'vitest';
import { FIREHOSE_ENTRY, startChildServer } from '../helpers/childServer.js';
import { firehoseMessage } from '../helpers/firehose.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { connectRawWs, type RawEvent } from '../helpers/rawWsClient.js';

const MB = 1024 * 1024;
const HIGH_WATER_BYTES = 64 * 1024;
/** Long enough that most of the stream is produced while the stalled client is still attached. */
const SLOW_CONSUMER_TIMEOUT_MS = 5_000;
const BUFFER_EVENTS = 64;
/**
 * 192 runs × 125 deltas of 8 KiB, one after the other: 187.5 MiB of payload for a subscriber
 * that does not read. (Runs, not one huge run: a run's final message joins all its deltas.)
 */
const RUNS = 192;
const DELTAS = 125;
const DELTA_BYTES = 8 * 1024;
/**
 * RSS growth allowed. The same workload with no subscriber at all grows RSS by about 45 MiB
 * (GC headroom, SQLite, corked write batches); measured with the stalled client: +87 to +111
 * MiB. Buffering for the stalled client would add the whole payload (well above the bound).
 */
const RSS_BOUND_BYTES = 160 * MB;

test('a client that stops reading is closed with 4008 SLOW_CONSUMER while server RSS stays bounded, then resumes and receives everything', async () => {
  await using child = await startChildServer({
    entry: FIREHOSE_ENTRY,
    env: {
      TRACEWIRE_SEND_HIGH_WATER_BYTES: String(HIGH_WATER_BYTES),
      TRACEWIRE_SLOW_CONSUMER_TIMEOUT_MS: String(SLOW_CONSUMER_TIMEOUT_MS),
      TRACEWIRE_SUBSCRIPTION_BUFFER_EVENTS: String(BUFFER_EVENTS),
      TRACEWIRE_RETENTION_MAX_EVENTS: '0',
      // The test sends its runs in a burst; the per-user mutation limit is not under test.
      TRACEWIRE_MUTATIONS_PER_SECOND: '10000',
      TRACEWIRE_MUTATION_BURST: '10000',
    },
  });
  const token = await child.tokenFor('slow');
  await using control = createPlainClient({ url: child.url, token, transport: 'ws' });
  const thread = await control.trpc.chat.createThread.mutate({});
  const wsUrl = `${child.url.replace(/^http/, 'ws')}/trpc`;

  await using slow = await connectRawWs({ wsUrl, token });
  slow.subscribe({ threadId: thread.id });
  await slow.waitFor((e) => e.length === 1);
  const marker = slow.events[0]!;
  expect(marker.data).toMatchObject({ type: 'stream_position', headSeq: 0 });

  const baseline = child.rssBytes();
  slow.pause();
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, child.rssBytes())), 20);
  const runIds: string[] = [];
  const producer = (async () => {
    for (let i = 0; i < RUNS; i++) {
      const { run } = await control.trpc.chat.send.mutate({
        threadId: thread.id,
        content: firehoseMessage(DELTAS, DELTA_BYTES),
        clientMessageId: createClientMessageId(),
      });
      runIds.push(run.id);
      // The run is not tied to any connection: it finishes whether anyone reads or not.
      while (
        ['queued', 'running'].includes(
          (await control.trpc.agent.run.query({ runId: run.id })).status,
        )
      ) {
        await new Promise((res) => setTimeout(res, 10));
      }
    }
  })();
  let closedAfterRuns: number;
  let peakWhileAttached = baseline;
  try {
    await child.waitForLine(/slow consumer disconnected/, 60_000);
    closedAfterRuns = runIds.length;
    peakWhileAttached = peak;
    // Read again: what was already in flight, then the close frame.
    slow.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(CLOSE_CODES.SLOW_CONSUMER);
    await producer;
    peak = Math.max(peak, peakWhileAttached);
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, child.rssBytes());
  for (const runId of runIds) {
    expect((await control.trpc.agent.run.query({ runId })).status).toBe('completed');
  }

  const before = slow.events.slice(1);
  const last = slow.events.at(-1)!;
  await using again = await connectRawWs({ wsUrl, token });
  again.subscribe({ threadId: thread.id, lastEventId: last.id });
  const total = RUNS * (DELTAS + 2);
  await again.waitFor((e) => before.length + e.length >= total, 30_000);
  const all: RawEvent[] = [...before, ...again.events];
  const seqs = all.map((r) => (r.data as AgentEvent).seq);
  expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  expect(all.filter((r) => r.data.type === 'agent_completed')).toHaveLength(RUNS);
  expect(all.at(-1)!.data.type).toBe('agent_completed');
  const payload = all.reduce(
    (n, r) => n + (r.data.type === 'message_delta' ? r.data.delta.length : 0),
    0,
  );

  console.log(
    `slow consumer: ${total} events (${(payload / MB).toFixed(1)} MiB of deltas); ` +
      `${before.length} received before the 4008 close (after ${closedAfterRuns} of ${RUNS} runs had ended), ` +
      `${again.events.length} after resuming; ` +
      `server RSS ${(baseline / MB).toFixed(1)} MiB -> peak ${(peak / MB).toFixed(1)} MiB ` +
      `(+${((peak - baseline) / MB).toFixed(1)} MiB, bound ${RSS_BOUND_BYTES / MB} MiB); ` +
      `peak while the stalled client was attached ${(peakWhileAttached / MB).toFixed(1)} MiB`,
  );
  expect(before.length).toBeLessThan(total);
  expect(peak - baseline).toBeLessThan(RSS_BOUND_BYTES);
  expect(payload).toBeGreaterThan(RSS_BOUND_BYTES);
}, 90_000);
