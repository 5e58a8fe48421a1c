import { join } from 'node:path';
import type { Logger } from 'pino';
import { createInstanceId } from './cluster/coordinator.js';
import type { Config } from './config.js';
import type { EventLog } from './events/eventLog.js';
import { openRedisEventLog } from './events/redis/index.js';
import { ClusterRunLedger } from './cluster/clusterRunLedger.js';
import type { ChatStore } from './storage/chatStore.js';
import type { RunLedger } from './storage/runLedger.js';
import { openPostgresStore } from './storage/postgres/index.js';
import { openSqliteStorage, type RetentionOptions } from './storage/sqlite/index.js';

/** The chat store and event log a server runs on, whichever back end holds them. */
export interface Backends {
  store: ChatStore;
  events: EventLog;
  /** How runs end: record, answer and terminal event kept in agreement (issue 22). */
  ledger: RunLedger;
  /** `db.system.name` of each part, for spans. */
  systems: { store: string; events: string };
  /** This instance's id in a cluster; null on the embedded default. */
  instanceId: string | null;
  /** Closes both (the event log first: pending appends are stored). */
  close(): Promise<void>;
}

/**
 * Opens the back ends the configuration names: PostgreSQL + Redis when both cluster URLs are
 * set, otherwise the embedded SQLite file. Fails (UNAVAILABLE, naming the engine) when a
 * cluster engine cannot be reached at start.
 */
export async function openBackends(opts: {
  config: Config;
  logger: Logger;
  retention: RetentionOptions;
}): Promise<Backends> {
  const { config, logger, retention } = opts;
  if (config.cluster === null) {
    const storage = await openSqliteStorage({
      file: join(config.dataDir, 'tracewire.db'),
      logger,
      retention,
    });
    return {
      store: storage.store,
      events: storage.events,
      ledger: storage.ledger,
      systems: { store: 'sqlite', events: 'sqlite' },
      instanceId: null,
      close: () => storage.close(),
    };
  }
  const { databaseUrl, redisUrl, redisPrefix } = config.cluster;
  const instanceId = createInstanceId();
  const pg = await openPostgresStore({ url: databaseUrl, instanceId, logger });
  let events: Awaited<ReturnType<typeof openRedisEventLog>>;
  try {
    events = await openRedisEventLog({ url: redisUrl, prefix: redisPrefix, retention, logger });
  } catch (err) {
    await pg.close();
    throw err;
  }
  logger.info({ instance_id: instanceId, redis_prefix: redisPrefix }, 'cluster back ends open');
  return {
    store: pg.store,
    events,
    ledger: new ClusterRunLedger({ db: pg.db, events }),
    systems: { store: 'postgresql', events: 'redis' },
    instanceId,
    close: async () => {
      await events.close();
      await pg.close();
    },
  };
}
