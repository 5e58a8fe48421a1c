import { createRunId, formatEventId, type ThreadId } from '@tracewire/shared';
import { expect, test } from 'vitest';
import { streamThread, type StreamItem } from '../../server/src/events/delivery.js';
import type { AgentEventDraft } from '../../server/src/events/eventLog.js';
import { SqliteEventLog } from '../../server/src/storage/sqlite/index.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { startTestServer } from '../helpers/server.js';

const deltas = (threadId: ThreadId, n: number): AgentEventDraft[] => {
  const runId = createRunId();
  return Array.from({ length: n }, (_, i) => ({
    type: 'message_delta',
    threadId,
    runId,
    ts: Date.now(),
    delta: `${i};`,
  }));
};

test('a stream reset while a subscriber is replaying from the log yields resync "epoch_changed", not the new epoch as a continuation of the old one', async () => {
  await using srv = await startTestServer();
  await using client = createPlainClient({
    url: srv.url,
    token: await srv.tokenFor('alice'),
    transport: 'ws',
  });
  const threadId = (await client.trpc.chat.createThread.mutate({})).id;
  const events = srv.server.services.events;
  if (!(events instanceof SqliteEventLog)) throw new Error('expected the embedded log');
  const [first] = await events.append(threadId, deltas(threadId, 10));
  const oldEpoch = first!.epoch;

  const ac = new AbortController();
  const stream = streamThread({
    events,
    threadId,
    lastEventId: `${oldEpoch}:0`,
    signal: ac.signal,
    pageSize: 4,
  });
  const got: StreamItem[] = [];
  got.push((await stream.next()).value as StreamItem);
  expect(got[0]!.id).toBe(`${oldEpoch}:1`);

  // The operator resets the stream mid-replay and the new epoch quickly outgrows the old position.
  const fresh = await events.resetStream(threadId);
  await events.append(threadId, deltas(threadId, 15));

  for (let i = 0; i < 20; i++) {
    const next = await Promise.race([
      stream.next(),
      new Promise<null>((r) => setTimeout(() => r(null), 200)),
    ]);
    if (next === null || next.done) break;
    got.push(next.value);
  }
  ac.abort();
  await stream.return(undefined);

  const ids = got.map((g) => `${g.event.type}@${g.id}`);
  const firstNew = got.findIndex((g) => g.id.startsWith(`${fresh.epoch}:`));
  // Nothing of the new epoch may be delivered before a resync announcing it.
  const resyncAt = got.findIndex((g) => g.event.type === 'resync');
  expect(resyncAt, `ids: ${ids.join(' ')}`).toBeGreaterThan(0);
  expect(got[resyncAt]!.event).toMatchObject({
    type: 'resync',
    reason: 'epoch_changed',
    epoch: fresh.epoch,
  });
  expect(firstNew === -1 || firstNew >= resyncAt).toBe(true);
  // Old-epoch events delivered before the resync are a contiguous prefix.
  expect(got.slice(0, resyncAt).map((g) => g.id)).toEqual(
    got.slice(0, resyncAt).map((_, i) => formatEventId({ epoch: oldEpoch, seq: i + 1 })),
  );
});
