import { AppError, createClientMessageId, type ThreadId, type UserId } from '@tracewire/shared';
import { sql } from 'kysely';
import pino from 'pino';
import { describe, expect, test } from 'vitest';
import { describeChatStoreContract } from '../chatStore.contract.js';
import type { SendRecord } from '../chatStore.js';
import {
  createTestSchema,
  openTestPostgresStore,
  usePostgresDatabase,
} from './__tests__/testDatabase.js';
import { openPostgresStore, PG_MIGRATIONS } from './index.js';

const databaseUrl = usePostgresDatabase();
const logger = pino({ level: 'silent' });

describeChatStoreContract('postgres', () => openTestPostgresStore(databaseUrl()));

/** `n` stores on one schema: what `n` instances of a cluster share. */
async function openInstances(n: number, schema: string) {
  const stores = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      openPostgresStore({
        url: databaseUrl(),
        schema,
        instanceId: `inst-${i}`,
        poolSize: 4,
        logger,
      }),
    ),
  );
  return {
    stores,
    [Symbol.asyncDispose]: async () => {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}

describe('PostgreSQL chat store', () => {
  test('several instances starting at once apply each migration exactly once', async () => {
    await using scratch = await createTestSchema(databaseUrl());
    await using cluster = await openInstances(4, scratch.schema);
    const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(
      cluster.stores[0]!.db,
    );
    expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(PG_MIGRATIONS));
    // Every instance works on the migrated schema.
    const thread = await cluster.stores[3]!.store.createThread({
      userId: 'u' as UserId,
      title: 't',
      agent: 'demo',
    });
    expect(await cluster.stores[0]!.store.getThread(thread.id)).toEqual(thread);
  });

  test('an idempotent send retried on other instances at once creates one message and run', async () => {
    await using scratch = await createTestSchema(databaseUrl());
    await using cluster = await openInstances(3, scratch.schema);
    const userId = 'retry-user' as UserId;
    const thread = await cluster.stores[0]!.store.createThread({
      userId,
      title: 't',
      agent: 'demo',
    });
    const input: SendRecord = {
      threadId: thread.id,
      userId,
      content: 'once',
      clientMessageId: createClientMessageId(),
      agent: 'demo',
    };
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        cluster.stores[i % 3]!.store.createMessageAndRun({ ...input }),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.run.id)).size).toBe(1);
    const messages = await cluster.stores[2]!.store.listMessages(thread.id, { limit: 50 });
    expect(messages.items).toHaveLength(1);
  });

  test('admits exactly the limit of concurrent runs per user when sends hit three instances at once', async () => {
    await using scratch = await createTestSchema(databaseUrl());
    await using cluster = await openInstances(3, scratch.schema);
    const userId = 'busy-user' as UserId;
    const threads: ThreadId[] = [];
    for (let i = 0; i < 3; i++)
      threads.push(
        (await cluster.stores[i]!.store.createThread({ userId, title: `t${i}`, agent: 'demo' })).id,
      );
    const limit = 5;
    const seen: number[] = [];
    const admit = (state?: { activeRuns: number }) => {
      expect(state).toBeDefined();
      seen.push(state!.activeRuns);
      if (state!.activeRuns >= limit) throw new AppError('TOO_MANY_REQUESTS', 'full');
    };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 18 }, (_, i) =>
        cluster.stores[i % 3]!.store.createMessageAndRun({
          threadId: threads[i % 3]!,
          userId,
          content: `m${i}`,
          clientMessageId: createClientMessageId(),
          agent: 'demo',
          admit,
        }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(limit);
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused.map((o) => (o.reason as AppError).code)).toEqual(
      Array(13).fill('TOO_MANY_REQUESTS'),
    );
    // Each admission saw the runs committed before it, one more each time, never a stale count.
    expect([...seen].sort((a, b) => a - b).slice(0, limit)).toEqual([0, 1, 2, 3, 4]);
    // A finished run frees its slot for the next send, on any instance.
    const running = await cluster.stores[0]!.store.listUnfinishedRuns();
    expect(running).toHaveLength(limit);
    await cluster.stores[1]!.store.updateRun(running[0]!.id, { status: 'completed' });
    const next = await cluster.stores[2]!.store.createMessageAndRun({
      threadId: threads[0]!,
      userId,
      content: 'after',
      clientMessageId: createClientMessageId(),
      agent: 'demo',
      admit,
    });
    expect(next.created).toBe(true);
  });

  test('stamps each run with the instance that accepted it, and leaves the terminal position empty', async () => {
    await using ctx = await openTestPostgresStore(databaseUrl(), { instanceId: 'inst-a' });
    const userId = 'owner-user' as UserId;
    const thread = await ctx.store.createThread({ userId, title: 't', agent: 'demo' });
    const { run } = await ctx.store.createMessageAndRun({
      threadId: thread.id,
      userId,
      content: 'q',
      clientMessageId: createClientMessageId(),
      agent: 'demo',
    });
    const row = await ctx.db
      .selectFrom('runs')
      .select(['owner', 'terminal_epoch', 'terminal_seq'])
      .where('id', '=', run.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ owner: 'inst-a', terminal_epoch: null, terminal_seq: null });
  });

  test('refuses to open with UNAVAILABLE naming PostgreSQL when the server cannot be reached', async () => {
    const refused = await openPostgresStore({
      url: 'postgres://postgres@127.0.0.1:1/nowhere',
      connectTimeoutMs: 1_000,
      logger,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: 'UNAVAILABLE' });
    expect((refused as Error).message).toMatch(/PostgreSQL/);
  });
});
