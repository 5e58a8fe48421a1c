import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 004: each thread names the agent that answers it. Threads written before 004 get the agent
 * of their latest run, or `demo` (the only agent `npm start` served before 004) when they
 * have none.
 */
export const threadAgent: Migration = {
  async up(db: Kysely<unknown>) {
    await db.transaction().execute(async (trx) => {
      await sql`alter table threads add column agent text not null default 'demo'`.execute(trx);
      await sql`update threads set agent = coalesce(
          (select r.agent from runs r where r.thread_id = threads.id
            order by r.created_at desc, r.id desc limit 1),
          agent)`.execute(trx);
    });
  },
  async down(db: Kysely<unknown>) {
    await sql`alter table threads drop column agent`.execute(db);
  },
};
