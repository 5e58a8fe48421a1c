import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@tracewire/server';
import { appRouter } from '@tracewire/server';
import { createClientMessageId, isTerminalEvent, type StreamEvent } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { waitFor } from '../helpers/collect.js';
import { createPlainClient, type PlainClient } from '../helpers/plainClient.js';
import { startTestServer } from '../helpers/server.js';

/** A live subscription that records everything it gets. */
interface Tap {
  events: { id: string; data: StreamEvent }[];
  errors: unknown[];
  stop(): void;
}

function tap(client: PlainClient, input: { threadId: string; lastEventId?: string }): Tap {
  const t: Tap = { events: [], errors: [], stop: () => undefined };
  const sub = client.trpc.agent.events.subscribe(input, {
    onData: (d) => t.events.push(d),
    onError: (e) => t.errors.push(e),
  });
  t.stop = () => sub.unsubscribe();
  return t;
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TRPCClientError);
    const code: string | undefined = (err as TRPCClientError<AppRouter>).data?.code;
    return code;
  }
  return 'OK';
}

describe.each(['ws', 'http+sse'] as const)('cross-user isolation over %s', (transport) => {
  test("user B with user A's thread and run ids gets NOT_FOUND from every procedure and none of A's events, while both stream", async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_AGENT_PACE_MS: '5' } });
    await using alice = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('alice'),
      transport,
    });
    await using bob = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('bob'),
      transport,
    });
    const threadA = await alice.trpc.chat.createThread.mutate({ title: 'alice secret' });
    const threadB = await bob.trpc.chat.createThread.mutate({ title: 'bob' });
    const aliceTap = tap(alice, { threadId: threadA.id });
    const bobTap = tap(bob, { threadId: threadB.id });
    await waitFor(() => aliceTap.events.length > 0 && bobTap.events.length > 0);

    const { run: runA } = await alice.trpc.chat.send.mutate({
      threadId: threadA.id,
      content: 'slow-run: the secret is 42',
      clientMessageId: createClientMessageId(),
    });
    const { run: runB } = await bob.trpc.chat.send.mutate({
      threadId: threadB.id,
      content: 'what is 3*3?',
      clientMessageId: createClientMessageId(),
    });
    await waitFor(() => aliceTap.events.some((e) => e.data.type === 'agent_started'));
    const aliceHead = aliceTap.events.at(-1)!.id;

    // Bob's taps on Alice's stream, live and resuming from a position Alice really had.
    const spyLive = tap(bob, { threadId: threadA.id });
    const spyResume = tap(bob, { threadId: threadA.id, lastEventId: aliceHead });
    const matrix: Record<string, () => Promise<unknown>> = {
      'chat.send': () =>
        bob.trpc.chat.send.mutate({
          threadId: threadA.id,
          content: 'hijack',
          clientMessageId: createClientMessageId(),
        }),
      'chat.history': () => bob.trpc.chat.history.query({ threadId: threadA.id }),
      'chat.cancel': () => bob.trpc.chat.cancel.mutate({ runId: runA.id }),
      'agent.run': () => bob.trpc.agent.run.query({ runId: runA.id }),
    };
    for (const [path, call] of Object.entries(matrix))
      expect(await codeOf(call()), path).toBe('NOT_FOUND');
    await waitFor(() => spyLive.errors.length > 0 && spyResume.errors.length > 0);
    for (const spy of [spyLive, spyResume]) {
      expect(spy.events).toEqual([]);
      expect((spy.errors[0] as TRPCClientError<AppRouter>).data).toMatchObject({
        code: 'NOT_FOUND',
      });
    }
    // The procedures without ids only ever show Bob his own data.
    const bobThreads = await bob.trpc.chat.listThreads.query({});
    expect(bobThreads.items.map((t) => t.id)).toEqual([threadB.id]);
    await bob.trpc.chat.createThread.mutate({ title: 'bob 2' });
    expect((await alice.trpc.chat.listThreads.query({})).items.map((t) => t.id)).toEqual([
      threadA.id,
    ]);
    // Every procedure of the API is in the matrix (a new one must be added here).
    const covered = [
      ...Object.keys(matrix),
      'agent.events',
      'chat.listThreads',
      'chat.createThread',
    ];
    expect(covered.sort()).toEqual(Object.keys(appRouter._def.procedures).sort());

    // Bob's cancel did nothing: Alice's run is still going, until she cancels it herself.
    expect((await alice.trpc.agent.run.query({ runId: runA.id })).status).toBe('running');
    await alice.trpc.chat.cancel.mutate({ runId: runA.id });
    await waitFor(() =>
      aliceTap.events.some((e) => isTerminalEvent(e.data) && e.data.runId === runA.id),
    );
    await waitFor(() =>
      bobTap.events.some((e) => isTerminalEvent(e.data) && e.data.runId === runB.id),
    );
    aliceTap.stop();
    bobTap.stop();

    const threadOf = (e: StreamEvent) => e.threadId;
    expect(new Set(aliceTap.events.map((e) => threadOf(e.data)))).toEqual(new Set([threadA.id]));
    expect(new Set(bobTap.events.map((e) => threadOf(e.data)))).toEqual(new Set([threadB.id]));
    expect(JSON.stringify(bobTap.events)).not.toContain('secret');
    const lastA = aliceTap.events.at(-1)!.data;
    expect(lastA.type === 'agent_error' && lastA.code).toBe('CANCELLED');
    expect(bobTap.events.at(-1)!.data.type).toBe('agent_completed');
    expect(aliceTap.errors).toEqual([]);
    expect(bobTap.errors).toEqual([]);
  });
});
