import { createTracewireClient, type ThreadEvent } from '@tracewire/client';
import type { EventLog, StreamHead } from '@tracewire/server';
import { createClientMessageId, isTerminalEvent, type ThreadId } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { waitFor, type Received } from '../helpers/collect.js';
import { waitForTerminalInLog } from '../helpers/eventLogRead.js';
import { firehoseAgent, firehoseMessage } from '../helpers/firehose.js';
import { createPlainClient, type PlainClient } from '../helpers/plainClient.js';
import {
  TEST_BACKENDS,
  startTestServer,
  type TestServer,
  type TestBackend,
} from '../helpers/server.js';

/** The embedded log's operator API (not on `EventLog`): drop history, start a new epoch. */
interface ResettableLog extends EventLog {
  resetStream(threadId: ThreadId): Promise<StreamHead>;
}
const isResettable = (log: EventLog): log is ResettableLog =>
  typeof (log as Partial<ResettableLog>).resetStream === 'function';

const RETAINED = 10;

async function setup(backend: TestBackend) {
  const srv = await startTestServer({
    backend,
    env: { TRACEWIRE_RETENTION_MAX_EVENTS: String(RETAINED) },
    overrides: { agents: [firehoseAgent] },
  });
  const client = createPlainClient({
    url: srv.url,
    token: await srv.tokenFor('alice'),
    transport: 'ws',
  });
  const thread = await client.trpc.chat.createThread.mutate({});
  return { srv, client, threadId: thread.id };
}

/** Starts a firehose run of `count` deltas; resolves with its id. */
async function start(client: PlainClient, threadId: string, count: number): Promise<string> {
  const { run } = await client.trpc.chat.send.mutate({
    threadId,
    content: firehoseMessage(count),
    clientMessageId: createClientMessageId(),
  });
  return run.id;
}

/** Runs the firehose for `count` deltas and waits until its terminal event is in the log. */
async function fire(srv: TestServer, client: PlainClient, threadId: string, count: number) {
  const runId = await start(client, threadId, count);
  return { runId, log: await waitForTerminalInLog(srv.server.services.events, threadId, runId) };
}

/** Subscribes with `lastEventId` and collects until the terminal event of a run started afterwards. */
async function resumeThenRun(
  ctx: Awaited<ReturnType<typeof setup>>,
  lastEventId: string,
  runSize = 3,
): Promise<Received[]> {
  const frames: Received[] = [];
  let failed = null as Error | null;
  const sub = ctx.client.trpc.agent.events.subscribe(
    { threadId: ctx.threadId, lastEventId },
    { onData: (d) => frames.push(d), onError: (e) => (failed = e) },
  );
  try {
    await waitFor(() => frames.length > 0 || failed !== null);
    const runId = await start(ctx.client, ctx.threadId, runSize);
    await waitFor(
      () =>
        failed !== null || frames.some((r) => isTerminalEvent(r.data) && r.data.runId === runId),
    );
    if (failed) throw failed;
    return frames;
  } finally {
    sub.unsubscribe();
  }
}

describe.each(TEST_BACKENDS)('on the %s back ends', (backend) => {
  describe('resume with a plain @trpc/client', () => {
    test('a position still retained resumes exactly; one older than the retention window gets resync "retention", never a partial replay', async () => {
      const ctx = await setup(backend);
      await using _srv = ctx.srv;
      await using _client = ctx.client;
      const { log } = await fire(ctx.srv, ctx.client, ctx.threadId, 40);
      const head = log.at(-1)!;
      // Retention by count kept only the newest RETAINED events.
      expect(head.seq).toBe(42);
      expect(log.map((e) => e.seq)).toEqual(Array.from({ length: RETAINED }, (_, i) => 33 + i));
      const epoch = head.epoch;

      // The oldest resumable position: right before the first retained event.
      const exact = await resumeThenRun(ctx, `${epoch}:32`);
      expect(exact.map((r) => r.data.type === 'resync')).not.toContain(true);
      const seqs = exact.map((r) => ('seq' in r.data ? r.data.seq : -1));
      expect(seqs.slice(0, RETAINED)).toEqual(log.map((e) => e.seq));
      seqs.forEach((s, i) => expect(s).toBe(33 + i));

      // One event older: the gap cannot be filled, so the stream starts with resync.
      const h = (await ctx.srv.server.services.events.head(ctx.threadId)).headSeq;
      const stale = await resumeThenRun(ctx, `${epoch}:31`);
      expect(stale[0]!.data).toMatchObject({
        type: 'resync',
        reason: 'retention',
        epoch,
        headSeq: h,
        firstAvailableSeq: h - RETAINED + 1,
      });
      expect(stale[0]!.id).toBe(`${epoch}:${h}`);
      const after = stale.slice(1).map((r) => r.data);
      // Nothing retained is replayed after the resync: only the new run, from head + 1.
      expect(after.map((e) => ('seq' in e ? e.seq : -1))).toEqual(after.map((_, i) => h + 1 + i));
      expect(after.every((e) => e.type !== 'resync' && e.type !== 'stream_position')).toBe(true);
    });

    test('a position from an older epoch gets resync "epoch_changed"; a malformed or ahead position gets "invalid_position"', async () => {
      const ctx = await setup(backend);
      await using _srv = ctx.srv;
      await using _client = ctx.client;
      const { log } = await fire(ctx.srv, ctx.client, ctx.threadId, 5);
      const old = log.at(-1)!;
      const events = ctx.srv.server.services.events;
      if (!isResettable(events)) throw new Error('the embedded log exposes resetStream');
      const fresh = await events.resetStream(ctx.threadId);
      expect(fresh.epoch).not.toBe(old.epoch);

      const stale = await resumeThenRun(ctx, `${old.epoch}:${old.seq}`);
      expect(stale[0]!.data).toMatchObject({
        type: 'resync',
        reason: 'epoch_changed',
        epoch: fresh.epoch,
        headSeq: 0,
      });
      expect(stale.slice(1).map((r) => ('seq' in r.data ? r.data.seq : -1))).toEqual(
        stale.slice(1).map((_, i) => i + 1),
      );
      const current = stale.at(-1)!.data as { epoch: string; seq: number };
      expect(current.epoch).toBe(fresh.epoch);

      for (const bad of ['not-an-id', `${fresh.epoch}:${current.seq + 1000}`]) {
        const frames = await resumeThenRun(ctx, bad, 1);
        expect(frames[0]!.data).toMatchObject({
          type: 'resync',
          reason: 'invalid_position',
          epoch: fresh.epoch,
        });
        expect(frames.filter((r) => r.data.type === 'resync')).toHaveLength(1);
      }
    });
  });

  describe('resume with the SDK', () => {
    test('client.events() surfaces resync to the app: retention on resume, epoch_changed while live', async () => {
      const ctx = await setup(backend);
      await using _srv = ctx.srv;
      await using _plain = ctx.client;
      await using sdk = createTracewireClient({
        url: ctx.srv.url,
        token: await ctx.srv.tokenFor('alice'),
        WebSocket,
        retry: { baseMs: 20, maxMs: 200 },
      });
      const { log } = await fire(ctx.srv, ctx.client, ctx.threadId, 30);
      const epoch = log.at(-1)!.epoch;
      const ac = new AbortController();
      const stream = sdk.events(ctx.threadId, { lastEventId: `${epoch}:1`, signal: ac.signal });
      const seen: ThreadEvent[] = [];
      let lastRunId: string | undefined = undefined;
      const reading = (async () => {
        for await (const e of stream) {
          seen.push(e);
          if (e.type === 'agent_completed' && e.runId === lastRunId) ac.abort();
        }
      })();
      expect(await stream.ready).toBe(true);
      await fire(ctx.srv, ctx.client, ctx.threadId, 3);
      const events = ctx.srv.server.services.events;
      if (!isResettable(events)) throw new Error('the embedded log exposes resetStream');
      const fresh = await events.resetStream(ctx.threadId);
      // The first event of the new epoch makes the live stream send resync.
      await fire(ctx.srv, ctx.client, ctx.threadId, 3);
      await waitFor(() => seen.filter((e) => e.type === 'resync').length === 2);
      lastRunId = await start(ctx.client, ctx.threadId, 3);
      // The run may have ended before its id was known here.
      if (seen.some((e) => e.type === 'agent_completed' && e.runId === lastRunId)) ac.abort();
      await reading;

      expect(seen[0]).toMatchObject({ type: 'resync', reason: 'retention', epoch, headSeq: 32 });
      const resyncs = seen.filter((e) => e.type === 'resync');
      expect(resyncs.map((e) => e.reason)).toEqual(['retention', 'epoch_changed']);
      expect(resyncs[1]).toMatchObject({ epoch: fresh.epoch });
      expect(stream.stats.resyncs).toBe(2);
      // After each resync: contiguous seq in the announced epoch, right after its head.
      const second = seen.indexOf(resyncs[1]!);
      const firstRun = seen.slice(1, second);
      expect(firstRun.map((e) => ('seq' in e ? `${e.epoch}:${e.seq}` : ''))).toEqual(
        firstRun.map((_, i) => `${epoch}:${33 + i}`),
      );
      const afterReset = seen.slice(second + 1);
      const from = resyncs[1]!.headSeq + 1;
      expect(afterReset.map((e) => ('seq' in e ? `${e.epoch}:${e.seq}` : ''))).toEqual(
        afterReset.map((_, i) => `${fresh.epoch}:${from + i}`),
      );
      // The run started after the resync arrived whole: started, 3 deltas, completed.
      expect(
        afterReset.filter((e) => e.type !== 'resync' && e.runId === lastRunId).map((e) => e.type),
      ).toEqual([
        'agent_started',
        'message_delta',
        'message_delta',
        'message_delta',
        'agent_completed',
      ]);
      expect(stream.stats.duplicatesDropped).toBe(0);
    });
  });
});
