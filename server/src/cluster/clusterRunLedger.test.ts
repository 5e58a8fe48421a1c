import { createClientMessageId, type Run, type UserId } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { openTestRedisEventLog, testPrefix } from '../events/redis/__tests__/testRedis.js';
import {
  createTestSchema,
  openTestPostgresStore,
  usePostgresDatabase,
} from '../storage/postgres/__tests__/testDatabase.js';
import { openPostgresStore } from '../storage/postgres/index.js';
import {
  describeRunLedgerContract,
  halfEndThroughInterfaces,
  type RunLedgerFixture,
} from '../storage/runLedger.contract.js';
import { reconcileRuns } from '../storage/runLedger.js';
import { ClusterRunLedger } from './clusterRunLedger.js';

const databaseUrl = usePostgresDatabase();

async function openFixture(): Promise<RunLedgerFixture> {
  const pg = await openTestPostgresStore(databaseUrl());
  const log = await openTestRedisEventLog();
  return {
    store: pg.store,
    events: log.events,
    ledger: new ClusterRunLedger({ db: pg.db, events: log.events }),
    halfEnd: halfEndThroughInterfaces(pg.store, log.events),
    [Symbol.asyncDispose]: async () => {
      await log[Symbol.asyncDispose]();
      await pg[Symbol.asyncDispose]();
    },
  };
}

describeRunLedgerContract('postgres + redis', openFixture);

describe('cluster run ledger', () => {
  test('finishes of one run from three instances at once write one terminal event, and every record agrees', async () => {
    await using scratch = await createTestSchema(databaseUrl());
    await using prefix = testPrefix();
    const instances = await Promise.all(
      [0, 1, 2].map(async () => {
        const pg = await openPostgresStore({
          url: databaseUrl(),
          schema: scratch.schema,
          poolSize: 3,
        });
        const log = await openTestRedisEventLog({ prefix: prefix.prefix });
        return { pg, log, ledger: new ClusterRunLedger({ db: pg.db, events: log.events }) };
      }),
    );
    try {
      const userId = 'multi' as UserId;
      const { store } = instances[0]!.pg;
      const thread = await store.createThread({ userId, title: 't', agent: 'demo' });
      const runs: Run[] = [];
      for (let i = 0; i < 5; i++) {
        const { run } = await store.createMessageAndRun({
          threadId: thread.id,
          userId,
          content: `q${i}`,
          clientMessageId: createClientMessageId(),
          agent: 'demo',
        });
        runs.push(run);
      }
      const results = await Promise.all(
        runs.flatMap((run) =>
          instances.map((inst, i) =>
            inst.ledger.finishRun({
              run,
              outcome:
                i === 0
                  ? { kind: 'completed', answer: `answer ${run.id}` }
                  : { kind: 'failed', code: 'CANCELLED', message: 'cancelled', retryable: false },
            }),
          ),
        ),
      );
      expect(results.filter((r) => r.event !== null)).toHaveLength(runs.length);
      const events = await instances[1]!.log.events.read(thread.id, 0, 100);
      const messages = await instances[2]!.pg.store.listMessages(thread.id, { limit: 100 });
      for (const run of runs) {
        const terminals = events.filter(
          (e) => e.runId === run.id && (e.type === 'agent_completed' || e.type === 'agent_error'),
        );
        expect(terminals).toHaveLength(1);
        const record = await instances[2]!.pg.store.getRun(run.id);
        const answers = messages.items.filter((m) => m.role === 'assistant' && m.runId === run.id);
        const end = terminals[0]!;
        if (end.type === 'agent_completed') {
          expect(record?.status).toBe('completed');
          expect(answers).toEqual([end.message]);
        } else {
          expect(record).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
          expect(answers).toEqual([]);
        }
      }
      // Nothing left to reconcile on any instance.
      expect(await instances[0]!.ledger.listRunsToReconcile()).toEqual([]);
    } finally {
      for (const inst of instances) {
        await inst.log.events.close();
        await inst.pg.close();
      }
    }
  });

  test('a dead owner’s unfinished run is ended with INSTANCE_LOST, retryable, exactly once', async () => {
    await using ctx = await openFixture();
    const userId = 'lost' as UserId;
    const thread = await ctx.store.createThread({ userId, title: 't', agent: 'demo' });
    const { run } = await ctx.store.createMessageAndRun({
      threadId: thread.id,
      userId,
      content: 'q',
      clientMessageId: createClientMessageId(),
      agent: 'demo',
    });
    await ctx.store.updateRun(run.id, { status: 'running' });
    const lost = {
      code: 'INSTANCE_LOST',
      message: 'the instance running this run stopped',
    } as const;
    const first = await reconcileRuns({ ledger: ctx.ledger, abandoned: lost });
    const second = await reconcileRuns({ ledger: ctx.ledger, abandoned: lost });
    expect(first).toMatchObject({ ended: 1, failed: 0 });
    expect(second).toMatchObject({ ended: 0, emitted: 0, recorded: 0, failed: 0 });
    const events = await ctx.events.read(thread.id, 0, 10);
    expect(events).toEqual([
      expect.objectContaining({ type: 'agent_error', code: 'INSTANCE_LOST', retryable: true }),
    ]);
    expect(await ctx.store.getRun(run.id)).toMatchObject({
      status: 'failed',
      error: { code: 'INSTANCE_LOST' },
    });
  });
});
