import { Migrator, sql, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import type { Logger } from 'pino';
import { AppError } from '@tracewire/shared';
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

/** The columns of an event row after its key, the same in 001 and 002. */
const EVENT_FIELDS = sql.raw(`seq integer not null,
        epoch text not null,
        type text not null,
        run_id text not null,
        ts integer not null,
        data text not null,
        data_meta text`);

/** Swaps the freshly filled `streams_<v>` and `events_<v>` in for the event log's tables. */
async function replaceLogTables(trx: Kysely<unknown>, v: '001' | '002'): Promise<void> {
  await sql`drop table events`.execute(trx);
  await sql`drop table streams`.execute(trx);
  await sql`alter table ${sql.table(`streams_${v}`)} rename to streams`.execute(trx);
  await sql`alter table ${sql.table(`events_${v}`)} rename to events`.execute(trx);
}

/**
 * 002: the event log in append order. `events` was clustered by (thread_id, seq): with many
 * live threads every event landed in its own B-tree leaf, so each commit rewrote a 4 KiB page
 * per event (~9 KB of WAL per event) and an insert cost twice what it does now. Events now
 * sit in a rowid table in the order they were written (inserts fill the last page) with a
 * unique index on (stream, seq), where `stream` is the integer id of the thread's `streams`
 * row (an index entry of a few bytes instead of a 30-character thread id). Copies every
 * event and stream position; one transaction, so a failure leaves the 001 tables intact.
 */
const appendOrderEvents: Migration = {
  async up(db: Kysely<unknown>) {
    await db.transaction().execute(async (trx) => {
      await sql`create table streams_002 (
        id integer primary key,
        thread_id text not null unique,
        epoch text not null,
        head_seq integer not null,
        first_seq integer not null
      )`.execute(trx);
      await sql`insert into streams_002 (thread_id, epoch, head_seq, first_seq)
        select thread_id, epoch, head_seq, first_seq from streams order by thread_id`.execute(trx);
      // No foreign key to streams: the log owns both tables, and a parent lookup per insert
      // would cost on the hottest write of the platform.
      await sql`create table events_002 (
        pos integer primary key,
        stream integer not null,
        ${EVENT_FIELDS}
      )`.execute(trx);
      await sql`insert into events_002 (stream, seq, epoch, type, run_id, ts, data, data_meta)
        select s.id, e.seq, e.epoch, e.type, e.run_id, e.ts, e.data, e.data_meta
        from events e join streams_002 s on s.thread_id = e.thread_id
        order by e.thread_id, e.seq`.execute(trx);
      await replaceLogTables(trx, '002');
      await sql`create unique index events_stream_seq on events (stream, seq)`.execute(trx);
    });
  },
  async down(db: Kysely<unknown>) {
    await db.transaction().execute(async (trx) => {
      await sql`create table streams_001 (
        thread_id text primary key,
        epoch text not null,
        head_seq integer not null,
        first_seq integer not null
      )`.execute(trx);
      await sql`insert into streams_001 select thread_id, epoch, head_seq, first_seq from streams`.execute(
        trx,
      );
      await sql`create table events_001 (
        thread_id text not null,
        ${EVENT_FIELDS},
        constraint events_pk primary key (thread_id, seq)
      ) without rowid`.execute(trx);
      await sql`insert into events_001
        select s.thread_id, e.seq, e.epoch, e.type, e.run_id, e.ts, e.data, e.data_meta
        from events e join streams s on s.id = e.stream`.execute(trx);
      await replaceLogTables(trx, '001');
    });
  },
};

/** Every migration, in order. Names sort lexically; never rename or edit a shipped one. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '001_initial': initial,
  '002_append_order_events': appendOrderEvents,
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
