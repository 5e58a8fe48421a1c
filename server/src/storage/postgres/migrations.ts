import { Migrator, sql, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import type { Logger } from 'pino';
import { AppError } from '@tracewire/shared';

/** 001: the chat store's tables and indexes (threads, messages, runs). */
const initial: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('threads')
      .addColumn('pos', 'bigint', (c) => c.generatedAlwaysAsIdentity().primaryKey())
      .addColumn('id', 'text', (c) => c.notNull().unique())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('agent', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('threads_user_pos')
      .on('threads')
      .columns(['user_id', 'pos'])
      .execute();

    await db.schema
      .createTable('messages')
      .addColumn('pos', 'bigint', (c) => c.generatedAlwaysAsIdentity().primaryKey())
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
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addCheckConstraint('messages_role_check', sql`role in ('user', 'assistant')`)
      .execute();
    await db.schema
      .createIndex('messages_thread_pos')
      .on('messages')
      .columns(['thread_id', 'pos'])
      .execute();
    // The idempotency key of chat.send, race-safe across instances.
    await db.schema
      .createIndex('messages_user_client_id')
      .on('messages')
      .columns(['user_id', 'client_message_id'])
      .unique()
      .where(sql.ref('client_message_id'), 'is not', null)
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
      .addColumn('created_at', 'timestamptz', (c) => c.notNull())
      .addColumn('started_at', 'timestamptz')
      .addColumn('ended_at', 'timestamptz')
      .addColumn('owner', 'text')
      .addColumn('terminal_epoch', 'text')
      .addColumn('terminal_seq', 'bigint')
      .addCheckConstraint(
        'runs_status_check',
        sql`status in ('queued', 'running', 'completed', 'failed', 'cancelled')`,
      )
      .execute();
    await db.schema.createIndex('runs_message').on('runs').column('message_id').execute();
    // Admission (unfinished runs of a user) and recovery (unfinished runs) read only these.
    await db.schema
      .createIndex('runs_unfinished_user')
      .on('runs')
      .columns(['user_id', 'created_at'])
      .where(sql.ref('status'), 'in', ['queued', 'running'])
      .execute();
  },
};

/** Every PostgreSQL migration, by name (applied in name order). */
export const PG_MIGRATIONS: Record<string, Migration> = { '001_initial': initial };

/**
 * Migrates the database to the latest schema. Kysely's PostgreSQL migrator holds a session
 * advisory lock while it runs (and each migration is one transaction), so instances that
 * start together apply each migration once: the others wait, then find nothing to do.
 */
export async function migratePostgres(
  db: Kysely<unknown>,
  logger?: Logger,
): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(PG_MIGRATIONS) },
  });
  const result = await migrator.migrateToLatest();
  for (const r of result.results ?? []) {
    logger?.info({ migration: r.migrationName, status: r.status }, 'postgres migration');
  }
  if (result.error) {
    throw AppError.is(result.error)
      ? result.error
      : new AppError(
          'UNAVAILABLE',
          `PostgreSQL migration failed: ${result.error instanceof Error ? result.error.message : 'unknown error'}`,
          {
            cause: result.error,
          },
        );
  }
  return result;
}
