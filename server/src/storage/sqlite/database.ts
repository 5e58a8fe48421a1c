import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, type CompiledQuery } from 'kysely';
import type { Logger } from 'pino';
import { startCheckpointer } from './checkpointer.js';
import type { DatabaseSchema } from './schema.js';

/** Options for {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** Database file; its parent directory is created when missing. */
  file: string;
  /** How long a writer waits for a lock held by another connection. @default 5000 */
  busyTimeoutMs?: number;
  /** Checkpoint the WAL from a worker thread (see {@link startCheckpointer}). @default true for files */
  checkpointInWorker?: boolean;
  logger?: Logger | undefined;
}

/**
 * Runs compiled Kysely queries synchronously on the raw connection. Multi-statement
 * transactions use it so that nothing else on the shared connection can interleave
 * between their statements (an async Kysely transaction would stay open across awaits).
 */
export interface SyncExecutor {
  /** All rows of a query. */
  all<TRow>(query: CompiledQuery<TRow>): TRow[];
  /** The first row, or undefined. */
  first<TRow>(query: CompiledQuery<TRow>): TRow | undefined;
  /** Runs a write; returns the number of changed rows. */
  run(query: CompiledQuery): number;
  /** Runs `fn` in one immediate transaction (rolled back when it throws). */
  transaction<T>(fn: () => T): T;
}

/** One open SQLite file shared by the chat store and the event log. */
export interface SqliteDatabase {
  sqlite: Database.Database;
  db: Kysely<DatabaseSchema>;
  sync: SyncExecutor;
  /** Stops the checkpoint thread and closes the connection (idempotent). */
  close(): Promise<void>;
}

/**
 * Opens (or creates) the database file with the settings the storage layer relies on:
 * WAL (readers never block the writer), `synchronous=NORMAL` (durable at checkpoints,
 * fast commits), a busy timeout and enforced foreign keys.
 */
export function openDatabase(opts: OpenDatabaseOptions): SqliteDatabase {
  if (opts.file !== ':memory:')
    fs.mkdirSync(path.dirname(path.resolve(opts.file)), { recursive: true });
  const sqlite = new Database(opts.file);
  try {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    sqlite.pragma('foreign_keys = ON');
  } catch (err) {
    sqlite.close();
    throw err;
  }
  const prepare = createStatementCache(sqlite);
  // Kysely's driver prepares every query it runs; handing it the cache makes a repeated
  // query (every subscription's ownership check, every send) skip SQLite's compiler.
  const database = { prepare, close: () => sqlite.close() };
  const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database }) });
  const checkpointer =
    opts.file !== ':memory:' && opts.checkpointInWorker !== false
      ? startCheckpointer({ file: opts.file, sqlite, logger: opts.logger })
      : null;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      if (sqlite.open) sqlite.close();
      await checkpointer?.stop();
    })();
    return closing;
  };
  return { sqlite, db, sync: createSyncExecutor(sqlite, prepare), close };
}

/** Prepared statements kept per connection; past this many SQL texts the oldest are dropped. */
const MAX_CACHED_STATEMENTS = 256;

/**
 * A statement cache keyed by SQL text. Kysely's query shapes are finite, so the cache holds
 * them all; the bound only guards against a caller that inlines values into SQL.
 * Streaming (`iterate`) a cached statement would lock it for its other users; nothing here
 * streams (Kysely only does for `.stream()`).
 */
export function createStatementCache(
  sqlite: Database.Database,
): (sql: string) => Database.Statement<unknown[]> {
  const cache = new Map<string, Database.Statement<unknown[]>>();
  return (sql) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = sqlite.prepare(sql);
      if (cache.size >= MAX_CACHED_STATEMENTS) cache.delete(cache.keys().next().value!);
      cache.set(sql, stmt);
    }
    return stmt;
  };
}

/** Runs its argument in a transaction; called within one, in a savepoint. */
export type TransactionRunner = Database.Transaction<<T>(fn: () => T) => T>;

/**
 * A transaction function built once, for any body: better-sqlite3 builds four wrappers each
 * time `transaction()` is called (~4.5 µs), which a send, a run's start and its end each paid.
 */
export function createTransactionRunner(sqlite: Database.Database): TransactionRunner {
  return sqlite.transaction(<T>(fn: () => T): T => fn());
}

/** Builds the synchronous executor on a statement cache keyed by SQL text. */
export function createSyncExecutor(
  sqlite: Database.Database,
  prepare = createStatementCache(sqlite),
  inTransaction = createTransactionRunner(sqlite),
): SyncExecutor {
  return {
    all: <TRow>(q: CompiledQuery<TRow>) => prepare(q.sql).all(...q.parameters) as TRow[],
    first: <TRow>(q: CompiledQuery<TRow>) =>
      prepare(q.sql).get(...q.parameters) as TRow | undefined,
    run: (q) => prepare(q.sql).run(...q.parameters).changes,
    transaction: <T>(fn: () => T): T => inTransaction.immediate(fn) as T,
  };
}
