import { createClientMessageId, isTerminalEvent } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { collectUntil, waitFor, type Received } from '../helpers/collect.js';
import { waitForTerminalInLog } from '../helpers/eventLogRead.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { TEST_BACKENDS, startTestServer } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcpProxy.js';

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
});
