import { createTracewireClient, type ThreadEvent, type TracewireClient } from '@tracewire/client';
import {
  createClientMessageId,
  isTerminalEvent,
  type AgentEvent,
  type StreamEvent,
} from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { waitFor } from '../helpers/collect.js';
import { readWholeStream } from '../helpers/eventLogRead.js';
import { firehoseAgent, firehoseMessage } from '../helpers/firehose.js';
import { createPlainClient, type PlainClient } from '../helpers/plainClient.js';
import { TEST_BACKENDS, startTestServer } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcpProxy.js';

// Sizes: 100 clients × 2 runs × (500 deltas + started + completed) = 100,400 events.
const CLIENTS = Number(process.env['CHAOS_CLIENTS'] ?? 100);
const RUNS_PER_THREAD = 2;
const DELTAS_PER_RUN = Number(process.env['CHAOS_DELTAS'] ?? 500);
/** Every CUT_EVERY_MS ± 50 %, the proxy cuts this share of the open connections. */
const CUT_EVERY_MS = 300;
const CUT_SHARE = 0.08;
const DEADLINE_MS = 75_000;

/** One chaos participant: a client on its own thread, as the app would see the stream. */
interface Participant {
  kind: 'sdk' | 'plain';
  threadId: string;
  /** What the app received (SDK: after dedup; plain: raw tRPC frames). */
  received: StreamEvent[];
  terminals: number;
  errors: unknown[];
  reconnects(): number;
  send(content: string): Promise<void>;
  close(): Promise<void>;
}

const strip = (e: AgentEvent) => {
  const { _meta: _ignored, ...rest } = e;
  return rest;
};

async function sdkParticipant(
  url: string,
  token: string,
): Promise<Participant & { client: TracewireClient }> {
  const client = createTracewireClient({
    url,
    token,
    WebSocket,
    retry: { baseMs: 50, maxMs: 1_000 },
  });
  const thread = await client.trpc.chat.createThread.mutate({});
  const stream = client.events(thread.id);
  const p: Participant & { client: TracewireClient } = {
    kind: 'sdk',
    client,
    threadId: thread.id,
    received: [],
    terminals: 0,
    errors: [],
    reconnects: () => client.stats.reconnects,
    send: async (content) => {
      await client.send(thread.id, content, { maxAttempts: 20 });
    },
    close: () => client.close(),
  };
  void (async () => {
    try {
      for await (const e of stream as AsyncIterable<ThreadEvent>) {
        p.received.push(e);
        if (isTerminalEvent(e)) p.terminals++;
      }
    } catch (err) {
      p.errors.push(err);
    }
  })();
  expect(await stream.ready).toBe(true);
  return p;
}

async function plainParticipant(url: string, token: string): Promise<Participant> {
  let opens = 0;
  const client: PlainClient = createPlainClient({
    url,
    token,
    transport: 'ws',
    retryDelayMs: 20 + Math.floor(Math.random() * 200),
    onOpen: () => opens++,
  });
  const thread = await client.trpc.chat.createThread.mutate({});
  const p: Participant = {
    kind: 'plain',
    threadId: thread.id,
    received: [],
    terminals: 0,
    errors: [],
    reconnects: () => Math.max(0, opens - 1),
    // tRPC fails a mutation in flight when the socket drops: retry with the same key.
    send: async (content) => {
      const input = { threadId: thread.id, content, clientMessageId: createClientMessageId() };
      for (let attempt = 0; ; attempt++) {
        try {
          await client.trpc.chat.send.mutate(input);
          return;
        } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
        }
      }
    },
    close: () => client.close(),
  };
  // tRPC itself resubscribes after each reconnect, with the last tracked id as lastEventId.
  client.trpc.agent.events.subscribe(
    { threadId: thread.id },
    {
      onData: ({ data }) => {
        p.received.push(data);
        if (isTerminalEvent(data)) p.terminals++;
      },
      onError: (err) => p.errors.push(err),
    },
  );
  await waitFor(() => p.received.length > 0 || p.errors.length > 0);
  return p;
}

describe.each(TEST_BACKENDS)('on the %s back ends', (backend) => {
  test(`chaos: ${CLIENTS} clients (SDK and plain @trpc/client) behind a proxy that cuts random connections get every event exactly once, in order`, async () => {
    await using srv = await startTestServer({
      backend,
      env: { TRACEWIRE_RETENTION_MAX_EVENTS: '0' },
      overrides: { agents: [firehoseAgent] },
    });
    await using proxy = await startTcpProxy({ target: srv.url });

    // Set-up without chaos: every client on its own user and thread, subscribed.
    const participants: Participant[] = [];
    for (let i = 0; i < CLIENTS; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, CLIENTS - i) }, async (_, j) => {
          const token = await srv.tokenFor(`chaos-${i + j}`);
          return (i + j) % 2 === 0
            ? sdkParticipant(proxy.url, token)
            : plainParticipant(proxy.url, token);
        }),
      );
      participants.push(...batch);
    }
    const sdk = participants.filter(
      (p): p is Participant & { client: TracewireClient } => p.kind === 'sdk',
    );

    // Chaos: cut a random share of the open connections every few hundred ms.
    let chaos = true;
    let cutRounds = 0;
    const chaosLoop = (async () => {
      while (chaos) {
        await new Promise((r) => setTimeout(r, CUT_EVERY_MS * (0.5 + Math.random())));
        if (!chaos) break;
        proxy.cutRandom(Math.max(1, Math.round(proxy.open * CUT_SHARE)));
        cutRounds++;
      }
    })();

    const started = Date.now();
    try {
      await Promise.all(
        participants.flatMap((p) =>
          Array.from({ length: RUNS_PER_THREAD }, () => p.send(firehoseMessage(DELTAS_PER_RUN))),
        ),
      );
      await waitFor(
        () => participants.every((p) => p.terminals >= RUNS_PER_THREAD || p.errors.length > 0),
        DEADLINE_MS,
      );
    } finally {
      chaos = false;
      await chaosLoop;
    }
    const elapsedMs = Date.now() - started;

    let sent = 0;
    let receivedPlain = 0;
    for (const p of participants) {
      expect(p.errors).toEqual([]);
      const log = await readWholeStream(srv.server.services.events, p.threadId);
      sent += log.length;
      expect(log.filter((e) => e.type === 'agent_started')).toHaveLength(RUNS_PER_THREAD);
      expect(log.filter((e) => e.type === 'agent_completed')).toHaveLength(RUNS_PER_THREAD);
      expect(log).toHaveLength(RUNS_PER_THREAD * (DELTAS_PER_RUN + 2));
      expect(p.received.some((e) => e.type === 'resync')).toBe(false);
      const agentEvents = p.received.filter((e): e is AgentEvent => e.type !== 'stream_position');
      // Cheap checks first for a readable failure, then the full comparison.
      expect(agentEvents.map((e) => e.seq)).toEqual(log.map((e) => e.seq));
      if (p.kind === 'plain') {
        receivedPlain += p.received.length;
        expect(agentEvents).toEqual(log);
      } else {
        expect(agentEvents).toEqual(log.map(strip));
      }
    }

    const stats = sdk.reduce(
      (acc, p) => {
        const s = p.client.stats;
        acc.received += s.received;
        acc.delivered += s.delivered;
        acc.duplicatesDropped += s.duplicatesDropped;
        acc.gapsDetected += s.gapsDetected;
        acc.gapsRepaired += s.gapsRepaired;
        acc.resubscribes += s.resubscribes;
        acc.reconnects += s.reconnects;
        return acc;
      },
      {
        received: 0,
        delivered: 0,
        duplicatesDropped: 0,
        gapsDetected: 0,
        gapsRepaired: 0,
        resubscribes: 0,
        reconnects: 0,
      },
    );
    const plainReconnects = participants
      .filter((p) => p.kind === 'plain')
      .reduce((n, p) => n + p.reconnects(), 0);
    console.log(
      [
        `chaos: ${participants.length} clients (${sdk.length} SDK, ${participants.length - sdk.length} plain @trpc/client), ${elapsedMs} ms`,
        `  sent (events in the server's log): ${sent}`,
        `  received: SDK frames ${stats.received}, delivered to the app ${stats.delivered}; plain frames ${receivedPlain}`,
        `  SDK duplicates dropped ${stats.duplicatesDropped}, gaps detected ${stats.gapsDetected}, gaps repaired ${stats.gapsRepaired}, resubscribes ${stats.resubscribes}`,
        `  reconnects: SDK ${stats.reconnects}, plain ${plainReconnects}; proxy cut ${proxy.cuts} connections in ${cutRounds} rounds, accepted ${proxy.accepted}`,
      ].join('\n'),
    );

    expect(sent).toBe(CLIENTS * RUNS_PER_THREAD * (DELTAS_PER_RUN + 2));
    // A gap the SDK saw was closed by resubscribing (every event arrived, checked above).
    if (stats.gapsDetected > 0) expect(stats.gapsRepaired).toBeGreaterThan(0);
    // The chaos really happened: connections were cut and clients reconnected.
    expect(proxy.cuts).toBeGreaterThan(CLIENTS / 4);
    expect(stats.reconnects + plainReconnects).toBeGreaterThan(CLIENTS / 4);

    await Promise.all(participants.map((p) => p.close()));
  }, 150_000);
});
