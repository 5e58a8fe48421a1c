import { createClientMessageId } from '@tracewire/shared';
import { Redis } from 'ioredis';
import { describe, expect, onTestFinished, test } from 'vitest';
import {
  createTestDatabase,
  PG_ADMIN_URL,
} from '../../server/src/storage/postgres/__tests__/testDatabase.js';
import {
  REDIS_TEST_URL,
  deleteKeys,
  startPrivateRedis,
  uniquePrefix,
} from '../../server/src/events/redis/__tests__/testRedis.js';
import { startChildServer } from '../helpers/childServer.js';
import { collectUntil, sendAndCollect, type Received } from '../helpers/collect.js';
import { errorOf } from '../helpers/errors.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { startTestServer } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcpProxy.js';

/** A fresh database and Redis prefix, removed when the test ends. */
async function clusterEnv(redisUrl = REDIS_TEST_URL) {
  const database = await createTestDatabase();
  const prefix = uniquePrefix();
  onTestFinished(async () => {
    await database[Symbol.asyncDispose]();
    await deleteKeys(redisUrl, prefix).catch(() => undefined);
  });
  return {
    database,
    env: {
      TRACEWIRE_DATABASE_URL: database.url,
      TRACEWIRE_REDIS_URL: redisUrl,
      TRACEWIRE_REDIS_PREFIX: prefix,
    },
  };
}

async function ready(
  url: string,
): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const res = await fetch(`${url}/health/ready`);
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
}

describe('cluster mode from the environment', () => {
  test('refuses to start with only one of the two URLs, naming the missing one', async () => {
    const { env } = await clusterEnv();
    for (const [set, missing] of [
      ['TRACEWIRE_DATABASE_URL', 'TRACEWIRE_REDIS_URL'],
      ['TRACEWIRE_REDIS_URL', 'TRACEWIRE_DATABASE_URL'],
    ] as const) {
      const refused = await startChildServer({ env: { [set]: env[set] } }).then(
        async (child) => {
          await child[Symbol.asyncDispose]();
          return null;
        },
        (err: unknown) => err as Error,
      );
      expect(refused?.message).toMatch(new RegExp(`${missing}: required when ${set} is set`));
    }
  });

  test('refuses a URL of the wrong kind with a message naming the variable', async () => {
    const refused = await startChildServer({
      env: { TRACEWIRE_DATABASE_URL: 'mysql://x/y', TRACEWIRE_REDIS_URL: 'redis://127.0.0.1:6379' },
    }).then(
      () => null,
      (err: unknown) => err as Error,
    );
    expect(refused?.message).toMatch(/TRACEWIRE_DATABASE_URL: must be a postgres:\/\/ URL/);
  });

  test('`node server/dist/main.js` with both URLs serves a chat turn, and after SIGKILL a restart on the same state resumes it', async () => {
    const { env } = await clusterEnv();
    const first = await startChildServer({ env });
    let token: string;
    let threadId: string;
    let turn: Received[];
    try {
      token = await first.tokenFor('alice');
      await using client = createPlainClient({ url: first.url, token, transport: 'ws' });
      const thread = await client.trpc.chat.createThread.mutate({ title: 'cluster' });
      threadId = thread.id;
      ({ received: turn } = await sendAndCollect(client.trpc, {
        threadId,
        content: '2+2',
        clientMessageId: createClientMessageId(),
      }));
      expect(turn.at(-1)!.data.type).toBe('agent_completed');
      expect((await ready(first.url)).status).toBe(200);
      // Every key of the thread lives under TRACEWIRE_REDIS_PREFIX (hash-tagged by thread).
      const redis = new Redis(REDIS_TEST_URL);
      try {
        const [, keys] = await redis.scan('0', 'MATCH', `*${threadId}*`, 'COUNT', 100_000);
        expect(keys.length).toBeGreaterThan(0);
        const prefix = `${env.TRACEWIRE_REDIS_PREFIX}{${threadId}}:`;
        expect(keys.every((k) => k.startsWith(prefix))).toBe(true);
      } finally {
        redis.disconnect();
      }
    } finally {
      await first.stop('SIGKILL');
      await first[Symbol.asyncDispose]();
    }
    await using second = await startChildServer({ env });
    await using client = createPlainClient({ url: second.url, token, transport: 'http+sse' });
    const history = await client.trpc.chat.history.query({ threadId });
    expect(history.items.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(history.lastEventId).toBe(turn.at(-1)!.id);
    const middle = turn[Math.floor(turn.length / 2)]!;
    const expected = turn.slice(turn.indexOf(middle) + 1);
    const replay = await collectUntil(
      (h) => client.trpc.agent.events.subscribe({ threadId, lastEventId: middle.id }, h),
      (_e, all) => all.length === expected.length,
    );
    expect(replay.map((r) => r.id)).toEqual(expected.map((r) => r.id));
  });
});

describe('engine failures', () => {
  test('PostgreSQL cut off: calls fail with UNAVAILABLE and readiness says so; the server serves again once it is back', async () => {
    const database = await createTestDatabase();
    onTestFinished(() => database[Symbol.asyncDispose]());
    await using proxy = await startTcpProxy({ target: `http://${new URL(PG_ADMIN_URL).host}` });
    const viaProxy = new URL(database.url);
    viaProxy.host = new URL(proxy.url).host;
    const prefix = uniquePrefix();
    onTestFinished(() => deleteKeys(REDIS_TEST_URL, prefix).then(() => undefined));
    await using srv = await startTestServer({
      env: {
        TRACEWIRE_DATABASE_URL: viaProxy.toString(),
        TRACEWIRE_REDIS_URL: REDIS_TEST_URL,
        TRACEWIRE_REDIS_PREFIX: prefix,
      },
    });
    await using client = createPlainClient({
      url: srv.url,
      token: await srv.tokenFor('alice'),
      transport: 'http+sse',
    });
    const thread = await client.trpc.chat.createThread.mutate({ title: 'before' });

    proxy.blocked = true;
    proxy.cutAll();
    const err = await errorOf(client.trpc.chat.listThreads.query({}));
    expect(err.data?.code).toBe('SERVICE_UNAVAILABLE');
    expect(err.data?.appCode).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/PostgreSQL/);
    const down = await ready(srv.url);
    expect(down.status).toBe(503);
    expect(down.body.reason).toMatch(/PostgreSQL/);

    proxy.blocked = false;
    expect((await client.trpc.chat.listThreads.query({})).items.map((t) => t.id)).toEqual([
      thread.id,
    ]);
    expect((await ready(srv.url)).status).toBe(200);
  });

  test('Redis restarted without its data: calls fail with UNAVAILABLE meanwhile, then a live subscriber gets resync epoch_changed and the next run streams', async () => {
    await using redis = await startPrivateRedis();
    const { env } = await clusterEnv(redis.url);
    await using srv = await startTestServer({ env });
    const token = await srv.tokenFor('alice');
    await using client = createPlainClient({ url: srv.url, token, transport: 'ws' });
    const thread = await client.trpc.chat.createThread.mutate({});
    const first = await sendAndCollect(client.trpc, {
      threadId: thread.id,
      content: '1+1',
      clientMessageId: createClientMessageId(),
    });
    const oldEpoch = first.received.at(-1)!.id.split(':')[0];

    // A subscriber that stays connected through the restart.
    const live: Received[] = [];
    const sub = client.trpc.agent.events.subscribe(
      { threadId: thread.id, lastEventId: first.received.at(-1)!.id },
      { onData: (d) => live.push(d), onError: () => undefined },
    );
    onTestFinished(() => sub.unsubscribe());
    await new Promise((r) => setTimeout(r, 200));

    await redis.stop('SIGKILL');
    const err = await errorOf(client.trpc.chat.history.query({ threadId: thread.id }));
    expect(err.data?.appCode).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/Redis/);
    await redis.start();

    // Once the server is connected again, the next run streams in a new epoch.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await client.trpc.chat.history.query({ threadId: thread.id });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await client.trpc.chat.send.mutate({
      threadId: thread.id,
      content: '2+2',
      clientMessageId: createClientMessageId(),
    });
    const end = Date.now() + 10_000;
    while (!live.some((r) => r.data.type === 'agent_completed') && Date.now() < end)
      await new Promise((r) => setTimeout(r, 50));
    const resync = live.find((r) => r.data.type === 'resync');
    expect(resync?.data).toMatchObject({ type: 'resync', reason: 'epoch_changed' });
    expect(resync!.id.split(':')[0]).not.toBe(oldEpoch);
    const after = live.slice(live.indexOf(resync!) + 1);
    expect(after.at(-1)?.data.type).toBe('agent_completed');
    // History kept both turns in PostgreSQL; its position is in the new epoch.
    const history = await client.trpc.chat.history.query({ threadId: thread.id });
    expect(history.items.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(history.lastEventId.split(':')[0]).toBe(resync!.id.split(':')[0]);
  });
});
