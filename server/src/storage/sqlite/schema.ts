import type { Generated } from 'kysely';

/**
 * Row types of the SQLite database, as Kysely sees them. Times are ms since the Unix
 * epoch (INTEGER) so they sort and compare cheaply and round-trip exactly as `Date`.
 */
export interface ThreadsTable {
  /** Insertion order; the stable sort key behind thread cursors. */
  pos: Generated<number>;
  id: string;
  user_id: string;
  title: string;
  /** The agent that answers the thread (migration 004). */
  agent: string;
  created_at: number;
  updated_at: number;
}

/** One message row; `user_id` is the author for user messages (idempotency key scope). */
export interface MessagesTable {
  /** Insertion order; ids are time-ordered but not strictly monotonic within a millisecond. */
  pos: Generated<number>;
  id: string;
  thread_id: string;
  user_id: string | null;
  role: 'user' | 'assistant';
  content: string;
  run_id: string | null;
  client_message_id: string | null;
  created_at: number;
}

/** One run row; the error is split into two nullable columns. */
export interface RunsTable {
  id: string;
  thread_id: string;
  user_id: string;
  message_id: string;
  agent: string;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  error_code: string | null;
  error_message: string | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  duration_ms: number | null;
  /**
   * Seq of the run's terminal event in its thread's stream, written in the transaction that
   * ends the run (migration 003). Null while the run is unfinished, or for a finished run
   * whose terminal event is still missing (reconcile appends it); 0 for a run that ended
   * before 003 and whose events retention had already deleted (nothing to reconcile).
   */
  terminal_seq: number | null;
}

/** Position of one thread's event stream. */
export interface StreamsTable {
  /** The key events refer to (smaller in their index than the thread id). */
  id: Generated<number>;
  thread_id: string;
  epoch: string;
  head_seq: number;
  first_seq: number;
}

/**
 * One stored event, in append order. `data` holds the whole event as JSON (for a plain event,
 * exactly its wire JSON) and `data_meta` the superjson annotations (Dates, undefined, …) when
 * needed; the columns repeat the fields queries use. (stream, seq) is unique.
 */
export interface EventsTable {
  /** Append order (the rowid). */
  pos: Generated<number>;
  /** `streams.id` of the event's thread. */
  stream: number;
  seq: number;
  epoch: string;
  type: string;
  run_id: string;
  ts: number;
  data: string;
  data_meta: string | null;
}

/** The whole database, for `Kysely<DatabaseSchema>`. */
export interface DatabaseSchema {
  threads: ThreadsTable;
  messages: MessagesTable;
  runs: RunsTable;
  streams: StreamsTable;
  events: EventsTable;
}
