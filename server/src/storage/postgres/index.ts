import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { ChatStore } from '../chatStore.js';
import { migratePostgres } from './migrations.js';
import { pgToAppError } from './pgErrors.js';
import { PostgresChatStore } from './postgresChatStore.js';
import type { PgSchema } from './schema.js';

export { PG_MIGRATIONS, migratePostgres } from './migrations.js';
export { PostgresChatStore } from './postgresChatStore.js';
export { pgToAppError } from './pgErrors.js';
export type { PgSchema } from './schema.js';

/** Options for {@link openPostgresStore}. */
export interface PostgresStoreOptions {
  /** `postgres://user@host:port/database`. */
  url: string;
  /** Stamped as the `owner` of the runs this instance accepts. */
  instanceId?: string;
  /** Schema to use instead of the connection's default (`search_path`); tests use one each. */
  schema?: string;
  /** Connections in the pool. @default 20 */
  poolSize?: number;
  /**
   * How long a call waits for a connection (a free one of the pool, or a new one) before it
   * fails with UNAVAILABLE. A refused connection fails at once; this bounds a busy pool and a
   * server that does not answer. @default 10000
   */
  connectTimeoutMs?: number;
  /** A query without an answer this long fails with UNAVAILABLE (a frozen server or network). @default 15000 */
  queryTimeoutMs?: number;
  logger?: Logger;
}

/** The PostgreSQL back end of the chat store, and the Kysely instance it runs on. */
export interface PostgresStore {
  store: ChatStore;
  /** For tests and tools that need SQL beside the store. */
  db: Kysely<PgSchema>;
  /** Ends the pool (idempotent); later store calls fail with UNAVAILABLE. */
  close(): Promise<void>;
}

const INT8_OID = 20;
const asNumber = (v: string): number => Number(v);

/** node-postgres's parsers, but bigint columns (positions, counts) as numbers: far below 2^53. */
const parseInt8AsNumber = ((oid: number, format?: 'text' | 'binary') => {
  if (oid === INT8_OID) return asNumber;
  return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
}) as typeof pg.types.getTypeParser;

/**
 * Opens the shared chat store on PostgreSQL: a connection pool, the schema migrated to the
 * latest version (under Kysely's advisory lock, so instances starting together do not race),
 * then the store. Fails with UNAVAILABLE (naming PostgreSQL) when the server cannot be reached.
 *
 * @example
 * const pgStore = await openPostgresStore({ url: 'postgres://postgres@127.0.0.1:5432/tracewire' });
 */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresStore> {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 20,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    query_timeout: opts.queryTimeoutMs ?? 15_000,
    keepAlive: true,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    // bigint columns (positions, counts) as numbers: they stay far below 2^53.
    types: { getTypeParser: parseInt8AsNumber },
  });
  // An idle connection that breaks (server restart, network cut) must not crash the process:
  // the pool drops it and the next call opens a new one.
  pool.on('error', (err) => opts.logger?.warn({ err }, 'postgres connection lost'));
  // A connection that breaks while checked out (between a transaction's statements) emits on
  // the client, where nothing else listens: the statement in flight fails instead.
  pool.on('connect', (client) =>
    client.on('error', (err) => opts.logger?.warn({ err }, 'postgres connection lost')),
  );
  const db = new Kysely<PgSchema>({ dialect: new PostgresDialect({ pool }) });
  let ended: Promise<void> | undefined;
  const close = () => (ended ??= db.destroy());
  try {
    await migratePostgres(db as Kysely<unknown>, opts.logger);
  } catch (err) {
    await close();
    throw pgToAppError(err);
  }
  const store = new PostgresChatStore({ db, instanceId: opts.instanceId, onClose: close });
  return { store, db, close: () => store.close() };
}
