import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 003: `runs.terminal_seq`, where a run's record points at its terminal event (written in the
 * transaction that ends the run), and the indexes reconciliation reads.
 *
 * Backfill of the runs that ended before: the seq of the terminal event when the log holds
 * it. A finished run without one is the crash of issue 22 (the record committed, the event
 * not): when some of the run's events are still in the log, `terminal_seq` stays null and
 * the next start appends the terminal event; when none are left (retention deleted them, or
 * the stream was reset), it is 0, "ended before its terminal event was recorded; nothing to
 * repair", which reconciliation leaves alone.
 */
export const runTerminalSeq: Migration = {
  async up(db: Kysely<unknown>) {
    await db.transaction().execute(async (trx) => {
      await sql`alter table runs add column terminal_seq integer`.execute(trx);
      // Terminal events by run: one entry per run, none for the events of a running agent.
      await sql`create index events_terminal_run on events (run_id)
        where type in ('agent_completed', 'agent_error')`.execute(trx);
      // What reconciliation visits at start: unfinished runs and runs missing their event.
      await sql`create index runs_unreconciled on runs (created_at)
        where terminal_seq is null`.execute(trx);
      await sql`update runs set terminal_seq = (
          select min(e.seq) from events e
          where e.run_id = runs.id and e.type in ('agent_completed', 'agent_error')
        )
        where status in ('completed', 'failed', 'cancelled')`.execute(trx);
      // One pass over the events (an ephemeral index of run ids), not one per run.
      await sql`update runs set terminal_seq = 0
        where terminal_seq is null and status in ('completed', 'failed', 'cancelled')
          and id not in (select run_id from events)`.execute(trx);
    });
  },
  async down(db: Kysely<unknown>) {
    await db.transaction().execute(async (trx) => {
      await sql`drop index runs_unreconciled`.execute(trx);
      await sql`drop index events_terminal_run`.execute(trx);
      await sql`alter table runs drop column terminal_seq`.execute(trx);
    });
  },
};
