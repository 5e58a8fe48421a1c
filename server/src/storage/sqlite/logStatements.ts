import type Database from 'better-sqlite3';

/** Every statement of the event log, as raw SQL: the hot path builds no queries. */
const SQL = {
  selectStream: 'select id, epoch, head_seq, first_seq from streams where thread_id = ?',
  insertStream:
    'insert into streams (thread_id, epoch, head_seq, first_seq) values (?, ?, 0, 1) on conflict (thread_id) do nothing',
  insertEvent:
    'insert into events (stream, seq, epoch, type, run_id, ts, data, data_meta) values (?, ?, ?, ?, ?, ?, ?, ?)',
  // The last seq stored in the current epoch: with `streams.head_seq`, the stream's head.
  lastStored: 'select seq, epoch from events where stream = ? order by seq desc limit 1',
  // Records the head with the new first seq: once a prefix is deleted (possibly every event),
  // the events table alone no longer tells where the stream ended.
  setFirst: 'update streams set first_seq = ?, head_seq = max(head_seq, ?) where id = ?',
  deleteBefore: 'delete from events where stream = ? and seq < ?',
  tsAt: 'select ts from events where stream = ? and seq = ?',
  firstSince: 'select min(seq) as seq from events where stream = ? and seq >= ? and ts >= ?',
  read: `select e.data, e.data_meta
    from streams s join events e on e.stream = s.id and e.epoch = s.epoch
    where s.thread_id = ? and e.seq > ? order by e.seq limit ?`,
  // A run's terminal events (normally one), through the partial index of migration 003.
  terminalsOfRun: `select seq, data, data_meta from events
    where run_id = ? and type in ('agent_completed', 'agent_error') order by seq`,
  // One page of streams (by thread id) with whether their first event is older than a cutoff.
  streamAges: `select s.id, s.thread_id, s.first_seq, e.ts < ? as expired from streams s
    join events e on e.stream = s.id and e.seq = s.first_seq
    where s.thread_id > ? order by s.thread_id limit ?`,
  deleteAll: 'delete from events where stream = (select id from streams where thread_id = ?)',
  resetStream: `insert into streams (thread_id, epoch, head_seq, first_seq) values (?, ?, 0, 1)
    on conflict (thread_id) do update set epoch = excluded.epoch, head_seq = 0, first_seq = 1`,
} as const;

/** The event log's prepared statements, by name. */
export type LogStatements = { [K in keyof typeof SQL]: Database.Statement<unknown[]> };

/** Prepares every statement of the event log once, on its connection. */
export function prepareLogStatements(sqlite: Database.Database): LogStatements {
  return Object.fromEntries(
    Object.entries(SQL).map(([k, sql]) => [k, sqlite.prepare(sql)]),
  ) as LogStatements;
}
