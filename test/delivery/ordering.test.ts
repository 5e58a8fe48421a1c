import { createTracewireClient, type ThreadEvent } from '@tracewire/client';
import { createClientMessageId, isTerminalEvent, type AgentEvent } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { waitFor, type Received } from '../helpers/collect.js';
import { readWholeStream } from '../helpers/eventLogRead.js';
import { firehoseMessage, jugglerAgent } from '../helpers/firehose.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { TEST_BACKENDS, startTestServer } from '../helpers/server.js';

describe.each(TEST_BACKENDS)('on the %s back ends', (backend) => {
  test('tool events and deltas produced concurrently (and by concurrent runs of one thread) reach subscribers in one contiguous seq order', async () => {
    await using srv = await startTestServer({ backend, overrides: { agents: [jugglerAgent] } });
    const token = await srv.tokenFor('alice');
    await using plain = createPlainClient({ url: srv.url, token, transport: 'ws' });
    await using sdk = createTracewireClient({
      url: srv.url,
      token,
      WebSocket,
      retry: { baseMs: 20, maxMs: 200 },
    });
    const thread = await plain.trpc.chat.createThread.mutate({});

    const frames: Received[] = [];
    const sub = plain.trpc.agent.events.subscribe(
      { threadId: thread.id },
      {
        onData: (d) => frames.push(d),
        onError: (e) => frames.push({ id: 'error', data: e as never }),
      },
    );
    const ac = new AbortController();
    const stream = sdk.events(thread.id, { signal: ac.signal });
    expect(await stream.ready).toBe(true);
    await waitFor(() => frames.length > 0);

    const ITEMS = 90;
    const RUNS = 3;
    const sent = await Promise.all(
      Array.from({ length: RUNS }, () =>
        plain.trpc.chat.send.mutate({
          threadId: thread.id,
          content: firehoseMessage(ITEMS),
          clientMessageId: createClientMessageId(),
        }),
      ),
    );
    const runIds = new Set<string>(sent.map((s) => s.run.id));
    const terminals = (events: { type: string; runId?: string }[]) =>
      events.filter((e) => isTerminalEvent(e as AgentEvent) && runIds.has(e.runId!)).length;

    const viaSdk: ThreadEvent[] = [];
    for await (const e of stream) {
      viaSdk.push(e);
      if (terminals(viaSdk) === RUNS) break;
    }
    await waitFor(() => terminals(frames.map((f) => f.data as AgentEvent)) === RUNS, 10_000);
    sub.unsubscribe();

    const log = await readWholeStream(srv.server.services.events, thread.id);
    // Per run: started, ITEMS/3 tool calls (executing + completed), the other items as deltas, completed.
    expect(log).toHaveLength(RUNS * (2 + ITEMS + ITEMS / 3));
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    for (const runId of runIds) {
      const ofRun = log.filter((e) => e.runId === runId);
      expect(ofRun[0]!.type).toBe('agent_started');
      expect(ofRun.at(-1)!.type).toBe('agent_completed');
      const executing = new Map<string, number>();
      for (const e of ofRun) {
        if (e.type === 'tool_executing') executing.set(e.toolCallId, e.seq);
        if (e.type === 'tool_completed') expect(executing.get(e.toolCallId)).toBeLessThan(e.seq);
      }
      expect(executing.size).toBe(ITEMS / 3);
    }

    // The plain client: the marker, then exactly the log, in order.
    expect(frames[0]!.data.type).toBe('stream_position');
    expect(frames.slice(1).map((f) => f.data)).toEqual(log);
    // The SDK: exactly the log, in order, nothing dropped as a duplicate or a gap.
    expect(viaSdk).toEqual(log.map(({ _meta: _ignored, ...e }) => e));
    expect(stream.stats).toMatchObject({ duplicatesDropped: 0, gapsDetected: 0, resyncs: 0 });
    ac.abort();
  });
});
