import type { Logger } from 'pino';
import type { EventLog } from '../../events/eventLog.js';
import type { ChatStore } from '../chatStore.js';
import type { RunLedger } from '../runLedger.js';
import { openDatabase } from './database.js';
import { migrateToLatest } from './migrations.js';
import { SqliteChatStore } from './sqliteChatStore.js';
import { SqliteRunLedger } from './sqliteRunLedger.js';
import {
  SqliteEventLog,
  type RetentionOptions,
  type SqliteEventLogOptions,
} from './sqliteEventLog.js';

export type { RetentionOptions } from './sqliteEventLog.js';
export { SqliteChatStore } from './sqliteChatStore.js';
export { SqliteEventLog } from './sqliteEventLog.js';
export { SqliteRunLedger } from './sqliteRunLedger.js';
export { MIGRATIONS, migrateToLatest } from './migrations.js';

/** Options for {@link openSqliteStorage}. */
export interface SqliteStorageOptions {
  /** Database file (parent directory created when missing); `:memory:` for throwaway use. */
  file: string;
  /** Event history limits; none by default. */
  retention?: RetentionOptions;
  /** See {@link SqliteEventLogOptions.maxBatchDelayMs}. */
  maxBatchDelayMs?: SqliteEventLogOptions['maxBatchDelayMs'];
  logger?: Logger;
}

/** The embedded back end: chat store, event log and run ledger in one SQLite file. */
export interface SqliteStorage {
  store: ChatStore;
  /** The event log; its class also offers `resetStream` and `prune`. */
  events: EventLog & Pick<SqliteEventLog, 'resetStream' | 'prune'>;
  /** Ends runs (record, answer, terminal event in one transaction) and reconciles them. */
  ledger: RunLedger;
  /** Flushes pending events and closes both (idempotent); later calls fail with UNAVAILABLE. */
  close(): Promise<void>;
}

/**
 * Opens the embedded storage: one SQLite file (WAL) holding threads, messages, runs and
 * event streams, migrated to the latest schema. The ledger writes through the log's batches,
 * so it needs no closing of its own. The file closes when the store and the log are closed.
 *
 * @example
 * const storage = await openSqliteStorage({ file: path.join(dataDir, 'tracewire.db') });
 * const thread = await storage.store.createThread({ userId, title: 'Hello', agent: 'demo' });
 * await storage.close();
 */
export async function openSqliteStorage(opts: SqliteStorageOptions): Promise<SqliteStorage> {
  const database = openDatabase({ file: opts.file, logger: opts.logger });
  try {
    await migrateToLatest(database.db, opts.logger);
  } catch (err) {
    await database.close();
    throw err;
  }
  let users = 2;
  const release = () => {
    if (--users === 0) void database.close();
  };
  const store = new SqliteChatStore({ database, onClose: release });
  let events: SqliteEventLog;
  try {
    events = new SqliteEventLog({
      database,
      retention: opts.retention,
      ...(opts.maxBatchDelayMs !== undefined ? { maxBatchDelayMs: opts.maxBatchDelayMs } : {}),
      logger: opts.logger,
      onClose: release,
    });
  } catch (err) {
    await database.close();
    throw err;
  }
  const ledger = new SqliteRunLedger({ database, events });
  let closing: Promise<void> | undefined;
  return {
    store,
    events,
    ledger,
    close: () => {
      closing ??= events
        .close()
        .then(() => store.close())
        .then(() => database.close());
      return closing;
    },
  };
}
