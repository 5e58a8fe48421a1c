import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracewireClient, type ThreadEvent } from '@tracewire/client';
import {
  createClientMessageId,
  isTerminalEvent,
  type AgentEvent,
  type StreamEvent,
} from '@tracewire/shared';
import { expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { startChildServer } from '../helpers/childServer.js';
import { collectUntil, waitFor } from '../helpers/collect.js';
import { createPlainClient, type PlainClient } from '../helpers/plainClient.js';

const PACE_MS = 100;
const GRACE_MS = 1_500;

/** The stream of a thread up to its `runs`-th terminal event, read back by resuming from position 0. */
async function wholeStream(
  client: PlainClient,
  threadId: string,
  epoch: string,
  runs: number,
): Promise<StreamEvent[]> {
  const frames = await collectUntil(
    (h) => client.trpc.agent.events.subscribe({ threadId, lastEventId: `${epoch}:0` }, h),
    (_e, all) => all.filter((r) => isTerminalEvent(r.data)).length === runs,
  );
  return frames.map((r) => r.data);
}

const strip = (e: StreamEvent) => {
  if (!('_meta' in e)) return e;
  const { _meta: _ignored, ...rest } = e;
  return rest;
};

test('SIGTERM mid-stream: a run finishing within the grace period completes, the rest end with SHUTDOWN; after a restart on the same store, clients resume with nothing lost', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tracewire-restart-'));
  try {
    const env = {
      TRACEWIRE_AGENT_PACE_MS: String(PACE_MS),
      TRACEWIRE_SHUTDOWN_GRACE_MS: String(GRACE_MS),
    };
    await using first = await startChildServer({ dataDir, env });
    const token = await first.tokenFor('alice');
    await using setup = createPlainClient({ url: first.url, token, transport: 'ws' });
    const slowThread = await setup.trpc.chat.createThread.mutate({ title: 'cut by shutdown' });
    const quickThread = await setup.trpc.chat.createThread.mutate({ title: 'finishes in grace' });
    await setup.close();

    // Listeners: the SDK (both threads) and a plain @trpc/client (both threads).
    await using sdk = createTracewireClient({
      url: first.url,
      token,
      WebSocket,
      transport: 'ws',
      retry: { baseMs: 100, maxMs: 500 },
    });
    const sdkSeen = new Map<string, ThreadEvent[]>();
    const sdkStreams = [slowThread.id, quickThread.id].map((threadId) => {
      const seen: ThreadEvent[] = [];
      sdkSeen.set(threadId, seen);
      const ac = new AbortController();
      const stream = sdk.events(threadId, { signal: ac.signal });
      const reading = (async () => {
        for await (const e of stream) {
          seen.push(e);
          // One run before the restart, one after it.
          if (seen.filter((x) => isTerminalEvent(x)).length === 2) ac.abort();
        }
      })();
      return { stream, reading };
    });
    for (const { stream } of sdkStreams) expect(await stream.ready).toBe(true);

    let plainOpens = 0;
    await using plain = createPlainClient({
      url: first.url,
      token,
      transport: 'ws',
      retryDelayMs: 100,
      onOpen: () => plainOpens++,
    });
    const plainSeen = new Map<string, StreamEvent[]>();
    const plainDone = [slowThread.id, quickThread.id].map((threadId) => {
      const frames = collectUntil(
        (h) => plain.trpc.agent.events.subscribe({ threadId }, h),
        (_e, all) => all.filter((r) => isTerminalEvent(r.data)).length === 2,
        30_000,
      );
      return frames.then((all) =>
        plainSeen.set(
          threadId,
          all.map((r) => r.data),
        ),
      );
    });

    // Two runs in flight, then SIGTERM while the quick one is mid-way.
    const sender = createTracewireClient({ url: first.url, token, WebSocket, transport: 'ws' });
    const slow = await sender.send(slowThread.id, 'slow-run please: what is 1+1?');
    await waitFor(() => (sdkSeen.get(slowThread.id)?.length ?? 0) >= 3, 10_000);
    const quick = await sender.send(quickThread.id, 'what is 6*7?');
    await waitFor(() => (sdkSeen.get(quickThread.id)?.length ?? 0) >= 2, 10_000);
    await sender.close();
    const lastBeforeStop = sdkStreams[0]!.stream.lastEventId;
    expect(lastBeforeStop).not.toBeNull();
    const sigtermAt = Date.now();
    const exit = await first.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });

    // Start again on the same data dir and port: the clients reconnect by themselves.
    await using second = await startChildServer({ dataDir, env, port: first.port });
    await using reader = createPlainClient({ url: second.url, token, transport: 'ws' });
    // One more run per thread after the restart: the listeners must get it on their own.
    const after = await Promise.all(
      [slowThread.id, quickThread.id].map((threadId) =>
        reader.trpc.chat.send.mutate({
          threadId,
          content: 'after the restart',
          clientMessageId: createClientMessageId(),
        }),
      ),
    );
    await Promise.all(sdkStreams.map((s) => s.reading));
    await Promise.all(plainDone);

    const runs = {
      slow: await reader.trpc.agent.run.query({ runId: slow.run.id }),
      quick: await reader.trpc.agent.run.query({ runId: quick.run.id }),
    };
    expect(runs.slow).toMatchObject({ status: 'failed', error: { code: 'SHUTDOWN' } });
    expect(runs.quick.status).toBe('completed');

    for (const threadId of [slowThread.id, quickThread.id]) {
      const viaSdk = sdkSeen.get(threadId)!;
      const epoch = (viaSdk[0] as AgentEvent).epoch;
      const log = await wholeStream(reader, threadId, epoch, 2);
      expect(viaSdk).toEqual(log.map(strip));
      expect(plainSeen.get(threadId)!.filter((e) => e.type !== 'stream_position')).toEqual(log);
    }
    const terminals = (threadId: string) =>
      sdkSeen.get(threadId)!.filter((e) => isTerminalEvent(e));
    const [slowEnd, slowAfter] = terminals(slowThread.id);
    expect(slowEnd).toMatchObject({
      type: 'agent_error',
      runId: slow.run.id,
      code: 'SHUTDOWN',
      retryable: true,
    });
    expect(slowAfter).toMatchObject({ type: 'agent_completed', runId: after[0]!.run.id });
    // The quick run was still running at SIGTERM and finished in the grace period; the slow
    // one was ended when the grace period ran out.
    const quickEnd = terminals(quickThread.id)[0]!;
    expect('ts' in quickEnd && quickEnd.ts).toBeGreaterThan(sigtermAt);
    expect(slowEnd && 'ts' in slowEnd && slowEnd.ts).toBeGreaterThanOrEqual(
      sigtermAt + GRACE_MS - 100,
    );
    expect(terminals(quickThread.id)).toMatchObject([
      { type: 'agent_completed', runId: quick.run.id },
      { type: 'agent_completed', runId: after[1]!.run.id },
    ]);

    // A client that was away during the restart resumes after it and still sees SHUTDOWN.
    const rest = await collectUntil(
      (h) =>
        reader.trpc.agent.events.subscribe(
          { threadId: slowThread.id, lastEventId: lastBeforeStop! },
          h,
        ),
      (e) => isTerminalEvent(e),
    );
    expect(rest.at(-1)!.data).toMatchObject({ type: 'agent_error', code: 'SHUTDOWN' });
    expect(sdk.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(plainOpens).toBeGreaterThanOrEqual(2);
    console.log(
      `restart: exit ${JSON.stringify(exit)}; slow thread ${sdkSeen.get(slowThread.id)!.length} events ` +
        `(${slowEnd?.type} ${slowEnd && 'code' in slowEnd ? slowEnd.code : ''}, then a run after the restart), ` +
        `quick thread ${sdkSeen.get(quickThread.id)!.length} events; reconnects: SDK ${sdk.stats.reconnects}, plain ${plainOpens - 1}`,
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);
