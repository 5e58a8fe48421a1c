import type { ColumnType, Generated } from 'kysely';

/** A `timestamptz` column: a Date read back, a Date (or SQL) written. */
type Timestamp = ColumnType<Date, Date, Date>;

/**
 * Row types of the PostgreSQL database, as Kysely sees them. `pos` (an identity column) is the
 * insertion order behind cursors; rows of one thread are inserted under that thread's row lock,
 * so their `pos` order is also their commit order and a cursor never skips a late commit.
 */
export interface PgThreadsTable {
  pos: Generated<number>;
  id: string;
  user_id: string;
  title: string;
  /** The agent that answers the thread. */
  agent: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** One message row; `user_id` is the author of a user message (idempotency key scope). */
export interface PgMessagesTable {
  pos: Generated<number>;
  id: string;
  thread_id: string;
  user_id: string | null;
  role: 'user' | 'assistant';
  content: string;
  run_id: string | null;
  client_message_id: string | null;
  created_at: Timestamp;
}

/**
 * One run row. `owner` is the instance that accepted the run (run coordination);
 * `terminal_epoch`/`terminal_seq` locate its one terminal event in the event log once the
 * run is finished (crash consistency: reconciled by run id).
 */
export interface PgRunsTable {
  id: string;
  thread_id: string;
  user_id: string;
  message_id: string;
  agent: string;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  error_code: string | null;
  error_message: string | null;
  created_at: Timestamp;
  started_at: Timestamp | null;
  ended_at: Timestamp | null;
  owner: string | null;
  terminal_epoch: string | null;
  terminal_seq: number | null;
}

/** The whole database, for `Kysely<PgSchema>`. */
export interface PgSchema {
  threads: PgThreadsTable;
  messages: PgMessagesTable;
  runs: PgRunsTable;
}
