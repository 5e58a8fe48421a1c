import { sql, type Kysely, type Migration, type RawBuilder } from 'kysely';

/** The columns of an event row after its key, the same in 001 and 002. */
const EVENT_FIELDS = sql.raw(`seq integer not null,
        epoch text not null,
        type text not null,
        run_id text not null,
        ts integer not null,
        data text not null,
        data_meta text`);

/** Rows copied per statement (8 parameters each, well under SQLite's limit). */
const PAGE = 500;

/** The fields 001 kept in columns and 002 also keeps inside `data`. */
const COLUMN_FIELDS = ['type', 'threadId', 'runId', 'seq', 'epoch', 'ts'] as const;

interface EventRow001 {
  stream: number;
  thread_id: string;
  seq: number;
  epoch: string;
  type: string;
  run_id: string;
  ts: number;
  data: string;
  data_meta: string | null;
}

/**
 * 001's `data` held the event without its column fields; 002's holds the whole event, as the
 * 001 reader rebuilt it (so the value read back is unchanged, and for a plain event `data` is
 * exactly its JSON). superjson annotations stay valid: they address the same top-level keys.
 */
const wholeEvent = (r: EventRow001): string =>
  JSON.stringify({
    type: r.type,
    threadId: r.thread_id,
    runId: r.run_id,
    seq: r.seq,
    epoch: r.epoch,
    ts: r.ts,
    ...(JSON.parse(r.data) as Record<string, unknown>),
  });

/** The reverse of {@link wholeEvent}. */
function fieldsOnly(data: string): string {
  const event = JSON.parse(data) as Record<string, unknown>;
  for (const k of COLUMN_FIELDS) delete event[k];
  return JSON.stringify(event);
}

const values = (cells: readonly unknown[][]): RawBuilder<unknown> =>
  sql.join(cells.map((row) => sql`(${sql.join(row)})`));

/** Swaps the freshly filled `streams_<v>` and `events_<v>` in for the event log's tables. */
async function replaceLogTables(trx: Kysely<unknown>, v: '001' | '002'): Promise<void> {
  await sql`drop table events`.execute(trx);
  await sql`drop table streams`.execute(trx);
  await sql`alter table ${sql.table(`streams_${v}`)} rename to streams`.execute(trx);
  await sql`alter table ${sql.table(`events_${v}`)} rename to events`.execute(trx);
}

/**
 * 002: the event log in append order, each event stored whole. `events` was clustered by
 * (thread_id, seq): with many live threads every event landed in its own B-tree leaf, so each
 * commit rewrote a 4 KiB page per event (~9 KB of WAL per event) and an insert cost twice what
 * it does now. Events now sit in a rowid table in the order they were written (inserts fill
 * the last page) with a unique index on (stream, seq), where `stream` is the integer id of the
 * thread's `streams` row (an index entry of a few bytes instead of a 30-character thread id).
 * `data` holds the whole event, so one JSON text serves the disk and the wire. Copies every
 * event and stream position in one transaction: a failure leaves the 001 tables intact.
 */
export const appendOrderEvents: Migration = {
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
      for (let after: [string, number] = ['', 0]; ;) {
        const { rows } = await sql<EventRow001>`select s.id as stream, e.*
          from events e join streams_002 s on s.thread_id = e.thread_id
          where (e.thread_id, e.seq) > (${after[0]}, ${after[1]})
          order by e.thread_id, e.seq limit ${PAGE}`.execute(trx);
        if (rows.length === 0) break;
        const cells = rows.map((r) => [
          r.stream,
          r.seq,
          r.epoch,
          r.type,
          r.run_id,
          r.ts,
          wholeEvent(r),
          r.data_meta,
        ]);
        await sql`insert into events_002 (stream, seq, epoch, type, run_id, ts, data, data_meta)
          values ${values(cells)}`.execute(trx);
        const last = rows[rows.length - 1]!;
        after = [last.thread_id, last.seq];
      }
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
      for (let after = 0; ;) {
        const { rows } = await sql<EventRow001 & { pos: number }>`select s.thread_id, e.*
          from events e join streams s on s.id = e.stream
          where e.pos > ${after} order by e.pos limit ${PAGE}`.execute(trx);
        if (rows.length === 0) break;
        const cells = rows.map((r) => [
          r.thread_id,
          r.seq,
          r.epoch,
          r.type,
          r.run_id,
          r.ts,
          fieldsOnly(r.data),
          r.data_meta,
        ]);
        await sql`insert into events_001 (thread_id, seq, epoch, type, run_id, ts, data, data_meta)
          values ${values(cells)}`.execute(trx);
        after = rows[rows.length - 1]!.pos;
      }
      await replaceLogTables(trx, '001');
    });
  },
};
