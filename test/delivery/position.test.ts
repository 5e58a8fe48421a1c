import { createClientMessageId, isTerminalEvent, type AgentEvent } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { collectUntil, waitFor, type Received } from '../helpers/collect.js';
import { waitForTerminalInLog } from '../helpers/eventLogRead.js';
import { createPlainClient, type PlainClientOptions } from '../helpers/plainClient.js';
import { TEST_BACKENDS, startTestServer, type TestServer } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcpProxy.js';

/**
 * A plain @trpc/client over WebSocket through a cutting proxy (`viaProxy`, its socket opens
 * counted) beside one straight to the server (`direct`), for user alice.
 */
async function proxiedClients(srv: TestServer, direct: PlainClientOptions['transport']) {
  const proxy = await startTcpProxy({ target: srv.url });
  const token = await srv.tokenFor('alice');
  const counts = { opens: 0 };
  const viaProxy = createPlainClient({
    url: proxy.url,
    token,
    transport: 'ws',
    retryDelayMs: 30,
    onOpen: () => counts.opens++,
  });
  const straight = createPlainClient({ url: srv.url, token, transport: direct });
  return {
    proxy,
    viaProxy,
    direct: straight,
    opens: () => counts.opens,
    async [Symbol.asyncDispose]() {
      await viaProxy.close();
      await straight.close();
      await proxy.close();
    },
  };
}

describe.each(TEST_BACKENDS)('on the %s back ends', (backend) => {
  test('a stream opened without lastEventId has a position from its first frame: a plain @trpc/client cut before any agent event loses nothing', async () => {
    await using srv = await startTestServer({ backend, env: { TRACEWIRE_AGENT_PACE_MS: '0' } });
    await using proxy = await startTcpProxy({ target: srv.url });
    const token = await srv.tokenFor('alice');
    let opens = 0;
    await using viaProxy = createPlainClient({
      url: proxy.url,
      token,
      transport: 'ws',
      retryDelayMs: 30,
      onOpen: () => opens++,
    });
    await using direct = createPlainClient({ url: srv.url, token, transport: 'ws' });
    const thread = await direct.trpc.chat.createThread.mutate({});
    // Something already in the stream before the subscription: it must not be replayed.
    const before = await direct.trpc.chat.send.mutate({
      threadId: thread.id,
      content: 'before 1+1',
      clientMessageId: createClientMessageId(),
    });
    const headBefore = (
      await waitForTerminalInLog(srv.server.services.events, thread.id, before.run.id)
    ).at(-1)!.seq;

    let runId: string | undefined = undefined;
    let sawMarker = false;
    const received = collectUntil(
      (h) => viaProxy.trpc.agent.events.subscribe({ threadId: thread.id }, h),
      (e) => {
        if (e.type === 'stream_position') sawMarker = true;
        return isTerminalEvent(e) && e.runId === runId;
      },
      15_000,
    );
    // The stream_position marker is the only frame so far; then the network partitions.
    await waitFor(() => sawMarker, 5_000);
    expect(opens).toBe(1);
    proxy.blocked = true;
    expect(proxy.cutAll()).toBe(1);

    // Events published while the client is away.
    const { run } = await direct.trpc.chat.send.mutate({
      threadId: thread.id,
      content: 'during the drop: what is 6*7?',
      clientMessageId: createClientMessageId(),
    });
    runId = run.id;
    const log = await waitForTerminalInLog(srv.server.services.events, thread.id, run.id);
    const duringDrop = log.filter((e) => e.seq > headBefore);
    expect(duringDrop.length).toBeGreaterThan(5);

    proxy.blocked = false;
    const all: Received[] = await received;
    expect(opens).toBeGreaterThanOrEqual(2);
    const [marker, ...events] = all;
    expect(marker?.data).toMatchObject({ type: 'stream_position', headSeq: headBefore });
    // tRPC resubscribed with the marker's id as lastEventId: exactly the events of the drop.
    expect(events.map((r) => r.data)).toEqual(duringDrop);
    expect(events.map((r) => r.id)).toEqual(duringDrop.map((e) => `${e.epoch}:${e.seq}`));
  });

  test('chat.send returns the position before its run: a plain @trpc/client that subscribes from it after the run began, with its socket cut mid-run, misses nothing', async () => {
    await using srv = await startTestServer({ backend, env: { TRACEWIRE_AGENT_PACE_MS: '25' } });
    await using clients = await proxiedClients(srv, 'http+sse');
    const { proxy, viaProxy, direct, opens } = clients;
    const { events } = srv.server.services;
    const thread = await direct.trpc.chat.createThread.mutate({});
    const earlier = await direct.trpc.chat.send.mutate({
      threadId: thread.id,
      content: 'an earlier turn: 1+1',
      clientMessageId: createClientMessageId(),
    });
    await waitForTerminalInLog(events, thread.id, earlier.run.id);

    const sent = await direct.trpc.chat.send.mutate({
      threadId: thread.id,
      content: 'what is 6*7?',
      clientMessageId: createClientMessageId(),
    });
    // The run starts at once: by the time this client subscribes it is under way. A stream
    // opened without lastEventId would start after its first events.
    let begun: AgentEvent[] = [];
    for (let i = 0; begun.filter((e) => e.runId === sent.run.id).length < 2; i++) {
      expect(i, 'the run emitted nothing within 5 s').toBeLessThan(500);
      await new Promise((r) => setTimeout(r, 10));
      begun = await events.read(thread.id, 0, 1000);
    }
    const first = begun.find((e) => e.runId === sent.run.id)!;
    expect(first).toMatchObject({ type: 'agent_started' });
    expect(sent.lastEventId).toBe(`${first.epoch}:${first.seq - 1}`);

    const received = collectUntil(
      (h) =>
        viaProxy.trpc.agent.events.subscribe(
          { threadId: thread.id, lastEventId: sent.lastEventId },
          h,
        ),
      (e) => isTerminalEvent(e) && e.runId === sent.run.id,
      20_000,
    );
    // The backfill arrived; then the network partitions while the run goes on.
    await waitFor(() => opens() === 1, 5_000);
    await new Promise((r) => setTimeout(r, 60));
    proxy.blocked = true;
    expect(proxy.cutAll()).toBe(1);
    // Cut mid-run: the rest of the run is published while this client is away.
    expect((await events.read(thread.id, first.seq, 1000)).some(isTerminalEvent)).toBe(false);
    const log = await waitForTerminalInLog(events, thread.id, sent.run.id);
    const runEvents = log.filter((e) => e.seq > first.seq - 1);
    expect(runEvents.every((e) => e.runId === sent.run.id)).toBe(true);
    proxy.blocked = false;

    const all = await received;
    expect(opens()).toBeGreaterThanOrEqual(2);
    expect(all.map((r) => r.data)).toEqual(runEvents);
    expect(all.map((r) => r.id)).toEqual(runEvents.map((e) => `${e.epoch}:${e.seq}`));

    // A retried send (same clientMessageId) after the run emitted names the same position.
    const retried = await direct.trpc.chat.send.mutate({
      threadId: thread.id,
      content: 'what is 6*7?',
      clientMessageId: sent.message.clientMessageId!,
    });
    expect(retried.run.id).toBe(sent.run.id);
    expect(retried.lastEventId).toBe(sent.lastEventId);
  });

  test('chat.createThread returns its stream position: subscribing from it before any send gets the first run whole', async () => {
    await using srv = await startTestServer({ backend, env: { TRACEWIRE_AGENT_PACE_MS: '2' } });
    const token = await srv.tokenFor('bob');
    await using client = createPlainClient({ url: srv.url, token, transport: 'ws' });
    const thread = await client.trpc.chat.createThread.mutate({ title: 'positions' });
    expect(thread.lastEventId).toMatch(/^[0-9a-z]+:0$/);
    const history = await client.trpc.chat.history.query({ threadId: thread.id });
    expect(history.lastEventId).toBe(thread.lastEventId);

    let runId: string | undefined = undefined;
    const received = collectUntil(
      (h) =>
        client.trpc.agent.events.subscribe(
          { threadId: thread.id, lastEventId: thread.lastEventId },
          h,
        ),
      (e) => isTerminalEvent(e) && e.runId === runId,
      15_000,
    );
    const sent = await client.trpc.chat.send.mutate({
      threadId: thread.id,
      content: 'hello',
      clientMessageId: createClientMessageId(),
    });
    runId = sent.run.id;
    expect(sent.lastEventId).toBe(thread.lastEventId);
    const all = await received;
    const log = await waitForTerminalInLog(srv.server.services.events, thread.id, sent.run.id);
    expect(all.map((r) => r.data)).toEqual(log);
    expect(all[0]!.data).toMatchObject({ type: 'agent_started', seq: 1 });
  });
});
