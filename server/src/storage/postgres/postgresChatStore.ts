import {
  AppError,
  createMessageId,
  createRunId,
  createThreadId,
  isTerminalRunStatus,
  type Message,
  type MessageId,
  type Run,
  type RunId,
  type Thread,
  type ThreadId,
  type UserId,
} from '@tracewire/shared';
import { sql, type Kysely, type Transaction } from 'kysely';
import type {
  ChatStore,
  NewThread,
  Page,
  PageOptions,
  RunPatch,
  SendRecord,
  SendResult,
} from '../chatStore.js';
import { decodeCursor, encodeCursor } from '../sqlite/cursor.js';
import { isPgForeignKeyViolation, isPgUniqueViolation, pgToAppError } from './pgErrors.js';
import { pgMessage, pgRun, pgThread, type PgRunRow } from './pgRows.js';
import type { PgSchema } from './schema.js';

/** Options for {@link PostgresChatStore}. */
export interface PostgresChatStoreOptions {
  db: Kysely<PgSchema>;
  /** Stamped as `owner` on every run this store creates (the instance that accepted it). */
  instanceId?: string | undefined;
  /** Called once by `close()` (ends the pool). */
  onClose?: () => Promise<void>;
}

/** Namespace of the per-user advisory locks (the first key of `pg_advisory_xact_lock(int, int)`). */
const USER_LOCK_NAMESPACE = 0x7477_0001;

const UNFINISHED = ['queued', 'running'] as const;

function pageLimit(page: PageOptions): number {
  if (!Number.isFinite(page.limit)) throw new AppError('BAD_REQUEST', 'limit must be a number');
  return Math.max(1, Math.floor(page.limit));
}

const threadNotFound = (threadId: string) =>
  new AppError('NOT_FOUND', `thread ${threadId} not found`);

type Tx = Transaction<PgSchema>;

/**
 * The {@link ChatStore} on PostgreSQL (Kysely + node-postgres), shared by every instance of a
 * cluster. Writes that belong together are one transaction; what must not interleave across
 * instances is serialised by PostgreSQL itself: a per-user advisory lock around `chat.send`
 * (idempotency and admission see every committed run of the user), and the thread's row lock
 * taken before any message insert (so message cursors follow commit order).
 */
export class PostgresChatStore implements ChatStore {
  readonly #db: Kysely<PgSchema>;
  readonly #owner: string | null;
  readonly #onClose: (() => Promise<void>) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(opts: PostgresChatStoreOptions) {
    this.#db = opts.db;
    this.#owner = opts.instanceId ?? null;
    this.#onClose = opts.onClose;
  }

  async #call<T>(fn: (db: Kysely<PgSchema>) => Promise<T>): Promise<T> {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'chat store is closed');
    try {
      return await fn(this.#db);
    } catch (err) {
      throw pgToAppError(err);
    }
  }

  createThread(input: NewThread): Promise<Thread> {
    return this.#call(async (db) => {
      const insert = (trx: Kysely<PgSchema>) => {
        const now = new Date();
        return trx
          .insertInto('threads')
          .values({
            id: createThreadId(),
            user_id: input.userId,
            title: input.title,
            agent: input.agent,
            created_at: now,
            updated_at: now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
      };
      if (!input.admit) return pgThread(await insert(db));
      // Counted and inserted under the user's lock: creates on several instances at once
      // cannot pass the check together.
      const admit = input.admit;
      return db.transaction().execute(async (trx) => {
        await lockUser(trx, input.userId);
        admit(await countThreadsOf(trx, input.userId));
        return pgThread(await insert(trx));
      });
    });
  }

  countThreads(userId: UserId): Promise<number> {
    return this.#call((db) => countThreadsOf(db, userId));
  }

  getThread(id: ThreadId): Promise<Thread | null> {
    return this.#call(async (db) => {
      const row = await db
        .selectFrom('threads')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? pgThread(row) : null;
    });
  }

  listThreads(userId: UserId, page: PageOptions): Promise<Page<Thread>> {
    return this.#call(async (db) => {
      const limit = pageLimit(page);
      let q = db.selectFrom('threads').selectAll().where('user_id', '=', userId);
      if (page.cursor !== undefined) q = q.where('pos', '<', decodeCursor('threads', page.cursor));
      const rows = await q
        .orderBy('pos', 'desc')
        .limit(limit + 1)
        .execute();
      const items = rows.slice(0, limit);
      return {
        items: items.map(pgThread),
        nextCursor:
          rows.length > limit ? encodeCursor('threads', items[items.length - 1]!.pos) : null,
      };
    });
  }

  createMessageAndRun(input: SendRecord): Promise<SendResult> {
    return this.#call(async (db) => {
      try {
        return await db.transaction().execute(async (trx) => {
          await lockUser(trx, input.userId);
          const prev = await findSent(trx, input);
          if (prev) return prev;
          if (input.admit) input.admit({ activeRuns: await countUnfinished(trx, input.userId) });
          return await this.#insertSent(trx, input);
        });
      } catch (err) {
        if (isPgUniqueViolation(err)) {
          // Only without the lock's protection (another writer of the table): return its result.
          const prev = await db.transaction().execute((trx) => findSent(trx, input));
          if (prev) return prev;
        }
        if (isPgForeignKeyViolation(err)) throw threadNotFound(input.threadId);
        throw err;
      }
    });
  }

  async #insertSent(trx: Tx, input: SendRecord): Promise<SendResult> {
    const now = new Date();
    // The thread's row lock first: messages of a thread are inserted (and numbered) one at a time.
    if (!(await touchThread(trx, input.threadId, now))) throw threadNotFound(input.threadId);
    const messageId = createMessageId();
    const runId = createRunId();
    const message = await trx
      .insertInto('messages')
      .values({
        id: messageId,
        thread_id: input.threadId,
        user_id: input.userId,
        role: 'user',
        content: input.content,
        run_id: runId,
        client_message_id: input.clientMessageId,
        created_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    const run = await trx
      .insertInto('runs')
      .values({
        id: runId,
        thread_id: input.threadId,
        user_id: input.userId,
        message_id: messageId,
        agent: input.agent,
        status: 'queued',
        error_code: null,
        error_message: null,
        created_at: now,
        started_at: null,
        ended_at: null,
        owner: this.#owner,
        terminal_epoch: null,
        terminal_seq: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { message: pgMessage(message), run: pgRun(run), created: true };
  }

  appendAssistantMessage(input: {
    threadId: ThreadId;
    runId: RunId;
    content: string;
  }): Promise<Message> {
    return this.#call((db) =>
      db.transaction().execute(async (trx) => {
        const message = await insertAnswer(trx, input);
        if (!message) throw threadNotFound(input.threadId);
        return message;
      }),
    );
  }

  getMessage(id: MessageId): Promise<Message | null> {
    return this.#call(async (db) => {
      const row = await db
        .selectFrom('messages')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? pgMessage(row) : null;
    });
  }

  listMessages(threadId: ThreadId, page: PageOptions): Promise<Page<Message>> {
    return this.#call(async (db) => {
      const limit = pageLimit(page);
      let q = db.selectFrom('messages').selectAll().where('thread_id', '=', threadId);
      if (page.cursor !== undefined) q = q.where('pos', '>', decodeCursor('messages', page.cursor));
      const rows = await q
        .orderBy('pos', 'asc')
        .limit(limit + 1)
        .execute();
      const items = rows.slice(0, limit);
      return {
        items: items.map(pgMessage),
        nextCursor:
          rows.length > limit ? encodeCursor('messages', items[items.length - 1]!.pos) : null,
      };
    });
  }

  recentMessages(
    threadId: ThreadId,
    opts: { before: MessageId; limit: number },
  ): Promise<Message[]> {
    return this.#call(async (db) => {
      const limit = pageLimit(opts);
      const before = await db
        .selectFrom('messages')
        .select('pos')
        .where('id', '=', opts.before)
        .where('thread_id', '=', threadId)
        .executeTakeFirst();
      if (!before) throw new AppError('NOT_FOUND', `message ${opts.before} not found in thread`);
      const rows = await db
        .selectFrom('messages')
        .selectAll()
        .where('thread_id', '=', threadId)
        .where('pos', '<', before.pos)
        .orderBy('pos', 'desc')
        .limit(limit)
        .execute();
      return rows.reverse().map(pgMessage);
    });
  }

  getRun(id: RunId): Promise<Run | null> {
    return this.#call(async (db) => {
      const row = await db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? pgRun(row) : null;
    });
  }

  updateRun(id: RunId, patch: RunPatch): Promise<Run> {
    return this.#call(async (db) => {
      const changed = await transition(db, id, patch);
      return pgRun(changed ?? (await endedRun(db, id)));
    });
  }

  completeRun(input: {
    runId: RunId;
    content: string;
    endedAt?: Date;
  }): Promise<{ run: Run; message: Message | null }> {
    const patch: RunPatch = { status: 'completed', endedAt: input.endedAt ?? new Date() };
    return this.#call((db) =>
      db.transaction().execute(async (trx) => {
        const changed = await transition(trx, input.runId, patch);
        if (!changed) return { run: pgRun(await endedRun(trx, input.runId)), message: null };
        const message = await insertAnswer(trx, {
          threadId: changed.thread_id,
          runId: changed.id,
          content: input.content,
        });
        if (!message) throw threadNotFound(changed.thread_id);
        return { run: pgRun(changed), message };
      }),
    );
  }

  listUnfinishedRuns(): Promise<Run[]> {
    return this.#call(async (db) => {
      const rows = await db
        .selectFrom('runs')
        .selectAll()
        .where('status', 'in', UNFINISHED)
        .orderBy('created_at', 'asc')
        .orderBy('id', 'asc')
        .execute();
      return rows.map(pgRun);
    });
  }

  ping(): Promise<void> {
    return this.#call(async (db) => {
      await sql`select 1`.execute(db);
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#onClose?.() ?? Promise.resolve();
    return this.#closing;
  }
}

/** Serialises a user's sends and thread creations across instances (until the commit). */
async function lockUser(trx: Tx, userId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${USER_LOCK_NAMESPACE}::int4, hashtext(${userId}))`.execute(
    trx,
  );
}

/** How many threads a user owns. */
async function countThreadsOf(db: Kysely<PgSchema>, userId: string): Promise<number> {
  const row = await db
    .selectFrom('threads')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The earlier result for this idempotency key; CONFLICT when the key was used differently. */
async function findSent(trx: Tx, input: SendRecord): Promise<SendResult | null> {
  const message = await trx
    .selectFrom('messages')
    .selectAll()
    .where('user_id', '=', input.userId)
    .where('client_message_id', '=', input.clientMessageId)
    .executeTakeFirst();
  if (!message) return null;
  if (message.thread_id !== input.threadId || message.content !== input.content) {
    throw new AppError(
      'CONFLICT',
      'clientMessageId was already used for a different message or thread',
    );
  }
  const run = await trx
    .selectFrom('runs')
    .selectAll()
    .where('message_id', '=', message.id)
    .executeTakeFirst();
  if (!run) throw new AppError('INTERNAL', `run of message ${message.id} is missing`);
  return { message: pgMessage(message), run: pgRun(run), created: false };
}

/** Queued or running runs of a user, as committed (read under the user's advisory lock). */
async function countUnfinished(trx: Tx, userId: string): Promise<number> {
  const row = await trx
    .selectFrom('runs')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('status', 'in', UNFINISHED)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Moves the thread's `updated_at` forward (never back); false when the thread is missing. */
async function touchThread(trx: Tx, threadId: string, now: Date): Promise<boolean> {
  const r = await trx
    .updateTable('threads')
    .set({ updated_at: sql<Date>`greatest(updated_at, ${now})` })
    .where('id', '=', threadId)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

/** Inserts a run's answer after touching (and so locking) its thread; null when it is missing. */
async function insertAnswer(
  trx: Tx,
  input: { threadId: string; runId: string; content: string },
): Promise<Message | null> {
  const now = new Date();
  if (!(await touchThread(trx, input.threadId, now))) return null;
  const row = await trx
    .insertInto('messages')
    .values({
      id: createMessageId(),
      thread_id: input.threadId,
      user_id: null,
      role: 'assistant',
      content: input.content,
      run_id: input.runId,
      client_message_id: null,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return pgMessage(row);
}

/**
 * Applies `patch` to a run that has not ended, in one statement (the row is locked by the
 * update itself): `running` stamps `started_at`, a terminal status stamps `ended_at` unless
 * given, an absent `error` keeps the old one. Undefined when the run ended or does not exist.
 */
async function transition(
  db: Kysely<PgSchema>,
  id: RunId,
  patch: RunPatch,
): Promise<PgRunRow | undefined> {
  const now = new Date();
  const running = patch.status === 'running' ? now : null;
  const ending = isTerminalRunStatus(patch.status) ? now : null;
  return db
    .updateTable('runs')
    .set({
      status: patch.status,
      started_at: sql<Date>`coalesce(${patch.startedAt ?? null}::timestamptz, started_at, ${running}::timestamptz)`,
      ended_at: sql<Date>`coalesce(${patch.endedAt ?? null}::timestamptz, ended_at, ${ending}::timestamptz)`,
      ...(patch.error !== undefined
        ? { error_code: patch.error?.code ?? null, error_message: patch.error?.message ?? null }
        : {}),
    })
    .where('id', '=', id)
    .where('status', 'in', UNFINISHED)
    .returningAll()
    .executeTakeFirst();
}

/** A run that `transition` left alone: it ended already (returned as is), or NOT_FOUND. */
async function endedRun(db: Kysely<PgSchema>, id: RunId): Promise<PgRunRow> {
  const row = await db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND', `run ${id} not found`);
  return row;
}
