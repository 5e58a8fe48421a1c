import { Migrator, sql, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import type { Logger } from 'pino';
import { AppError } from '@tracewire/shared';
import { appendOrderEvents } from './migration002.js';
import { runTerminalSeq } from './migration003.js';
import { threadAgent } from './migration004.js';
import type { DatabaseSchema } from './schema.js';

/** 001: every table and index of the chat store and the event log. */
const initial: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('threads')
      .addColumn('pos', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('id', 'text', (c) => c.notNull().unique())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('threads_user_pos')
      .on('threads')
      .columns(['user_id', 'pos'])
      .execute();

    await db.schema
      .createTable('messages')
      .addColumn('pos', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('id', 'text', (c) => c.notNull().unique())
      .addColumn('thread_id', 'text', (c) =>
        c.notNull().references('threads.id').onDelete('cascade'),
      )
      .addColumn('user_id', 'text')
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('content', 'text', (c) => c.notNull())
      // No FK: a user message and its run reference each other and are written together.
      .addColumn('run_id', 'text')
      .addColumn('client_message_id', 'text')
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addCheckConstraint('messages_role_check', sql`role in ('user', 'assistant')`)
      .execute();
    await db.schema
      .createIndex('messages_thread_pos')
      .on('messages')
      .columns(['thread_id', 'pos'])
      .execute();
    // The idempotency key of chat.send: race-safe even across connections.
    await db.schema
      .createIndex('messages_user_client_id')
      .on('messages')
      .columns(['user_id', 'client_message_id'])
      .unique()
      .where(sql<boolean>`client_message_id is not null`)
      .execute();

    await db.schema
      .createTable('runs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('thread_id', 'text', (c) =>
        c.notNull().references('threads.id').onDelete('cascade'),
      )
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('message_id', 'text', (c) =>
        c.notNull().references('messages.id').onDelete('cascade'),
      )
      .addColumn('agent', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('error_code', 'text')
      .addColumn('error_message', 'text')
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addColumn('started_at', 'integer')
      .addColumn('ended_at', 'integer')
      .addColumn('duration_ms', 'integer')
      .addCheckConstraint(
        'runs_status_check',
        sql`status in ('queued', 'running', 'completed', 'failed', 'cancelled')`,
      )
      .execute();
    await db.schema.createIndex('runs_message').on('runs').column('message_id').execute();
    await db.schema
      .createIndex('runs_unfinished')
      .on('runs')
      .columns(['created_at'])
      .where(sql<boolean>`status in ('queued', 'running')`)
      .execute();

    // Event log: independent of the chat tables (another back end may hold it).
    await db.schema
      .createTable('streams')
      .addColumn('thread_id', 'text', (c) => c.primaryKey())
      .addColumn('epoch', 'text', (c) => c.notNull())
      .addColumn('head_seq', 'integer', (c) => c.notNull())
      .addColumn('first_seq', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('events')
      .addColumn('thread_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('epoch', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('ts', 'integer', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('data_meta', 'text')
      .addPrimaryKeyConstraint('events_pk', ['thread_id', 'seq'])
      .modifyEnd(sql`without rowid`)
      .execute();
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['events', 'streams', 'runs', 'messages', 'threads']) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};

/** Every migration, in order. Names sort lexically; never rename or edit a shipped one. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '001_initial': initial,
  '002_append_order_events': appendOrderEvents,
  '003_run_terminal_seq': runTerminalSeq,
  '004_thread_agent': threadAgent,
};

/**
 * Brings the schema up to date. Safe to call on every open: applied migrations are
 * recorded in `kysely_migration` and skipped.
 */
export async function migrateToLatest(
  db: Kysely<DatabaseSchema>,
  logger?: Logger,
): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(MIGRATIONS) },
  });
  const result = await migrator.migrateToLatest();
  for (const r of result.results ?? []) {
    if (r.status === 'Success') logger?.info({ migration: r.migrationName }, 'applied migration');
    else logger?.error({ migration: r.migrationName, status: r.status }, 'migration failed');
  }
  if (result.error !== undefined) {
    throw new AppError('UNAVAILABLE', 'database migration failed', { cause: result.error });
  }
  return result;
}
