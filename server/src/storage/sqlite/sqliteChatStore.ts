import {
  AppError,
  createMessageId,
  createRunId,
  createThreadId,
  type Message,
  type MessageId,
  type Run,
  type RunId,
  type Thread,
  type ThreadId,
  type UserId,
} from '@tracewire/shared';
import { sql, type Kysely } from 'kysely';
import type {
  ChatStore,
  NewThread,
  Page,
  PageOptions,
  RunPatch,
  SendRecord,
  SendResult,
} from '../chatStore.js';
import { decodeCursor, encodeCursor, type CursorKind } from './cursor.js';
import { createGroupCommit, type GroupCommit } from './groupCommit.js';
import type { SqliteDatabase, SyncExecutor } from './database.js';
import { toMessage, toRun, toThread, type MessageRow, type RunRow } from './rows.js';
import { insertAnswer, touchThread, transitionRun, type RecordContext } from './runRecords.js';
import type { DatabaseSchema } from './schema.js';
import { isForeignKeyViolation, isUniqueViolation, toAppError } from './sqliteErrors.js';

/** Options for {@link SqliteChatStore}. */
export interface SqliteChatStoreOptions {
  database: SqliteDatabase;
  /** Called once by `close()`; the owner closes the shared file when all users are done. */
  onClose?: () => void;
}

function pageLimit(page: PageOptions): number {
  if (!Number.isFinite(page.limit)) throw new AppError('BAD_REQUEST', 'limit must be a number');
  return Math.max(1, Math.floor(page.limit));
}

function toPage<T>(opts: { rows: T[]; limit: number; kind: CursorKind; pos: (row: T) => number }): {
  rows: T[];
  nextCursor: string | null;
} {
  if (opts.rows.length <= opts.limit) return { rows: opts.rows, nextCursor: null };
  const rows = opts.rows.slice(0, opts.limit);
  return { rows, nextCursor: encodeCursor(opts.kind, opts.pos(rows[rows.length - 1]!)) };
}

const threadNotFound = (threadId: string) =>
  new AppError('NOT_FOUND', `thread ${threadId} not found`);

/**
 * The embedded {@link ChatStore}: Kysely over better-sqlite3. Single statements go through
 * Kysely's async executor; multi-statement writes run as one synchronous transaction on
 * the shared connection, so no other query can interleave between their statements.
 */
export class SqliteChatStore implements ChatStore {
  readonly #db: Kysely<DatabaseSchema>;
  readonly #sync: SyncExecutor;
  readonly #records: RecordContext;
  /** New threads, run transitions and answers: many small writes that arrive together. */
  readonly #writes: GroupCommit;
  readonly #onClose: (() => void) | undefined;
  #closed = false;

  constructor(opts: SqliteChatStoreOptions) {
    this.#db = opts.database.db;
    this.#sync = opts.database.sync;
    this.#records = { db: this.#db, sync: this.#sync };
    this.#writes = createGroupCommit(opts.database.sqlite);
    this.#onClose = opts.onClose;
  }

  async #call<T>(fn: (db: Kysely<DatabaseSchema>) => Promise<T> | T): Promise<T> {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'chat store is closed');
    try {
      return await fn(this.#db);
    } catch (err) {
      throw toAppError(err);
    }
  }

  createThread(input: NewThread): Promise<Thread> {
    return this.#call(() => {
      const now = Date.now();
      const row = {
        id: createThreadId(),
        user_id: input.userId,
        title: input.title,
        agent: input.agent,
        created_at: now,
        updated_at: now,
      };
      const insert = this.#db.insertInto('threads').values(row).compile();
      const count = input.admit ? this.#countThreadsQuery(input.userId) : null;
      // In the group commit's transaction, one write at a time: the count a check sees
      // includes every thread created before it, committed or not.
      return this.#writes.run(() => {
        if (count) input.admit?.(this.#sync.first(count)?.n ?? 0);
        this.#sync.run(insert);
        return toThread({ ...row, pos: 0 });
      });
    });
  }

  countThreads(userId: UserId): Promise<number> {
    return this.#call(async () => {
      const row = await this.#db.executeQuery(this.#countThreadsQuery(userId));
      return row.rows[0]?.n ?? 0;
    });
  }

  /** The user's thread count; an index range scan on (user_id, pos). */
  #countThreadsQuery(userId: UserId) {
    return this.#db
      .selectFrom('threads')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .compile();
  }

  getThread(id: ThreadId): Promise<Thread | null> {
    return this.#call(async (db) => {
      const row = await db
        .selectFrom('threads')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? toThread(row) : null;
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
      const p = toPage({ rows, limit, kind: 'threads', pos: (r) => r.pos });
      return { items: p.rows.map(toThread), nextCursor: p.nextCursor };
    });
  }

  createMessageAndRun(input: SendRecord): Promise<SendResult> {
    return this.#call(() => {
      try {
        return this.#sync.transaction(() => {
          const prev = this.#findSent(input);
          if (prev) return prev;
          input.admit?.();
          return this.#insertSent(input);
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          // Another connection won the race on (userId, clientMessageId): return its result.
          const prev = this.#sync.transaction(() => this.#findSent(input));
          if (prev) return prev;
        }
        if (isForeignKeyViolation(err)) throw threadNotFound(input.threadId);
        throw err;
      }
    });
  }

  /** The earlier result for this idempotency key, CONFLICT when the key was used differently. */
  #findSent(input: SendRecord): SendResult | null {
    const message = this.#sync.first(
      this.#db
        .selectFrom('messages')
        .selectAll()
        .where('user_id', '=', input.userId)
        .where('client_message_id', '=', input.clientMessageId)
        .compile(),
    );
    if (!message) return null;
    if (message.thread_id !== input.threadId || message.content !== input.content) {
      throw new AppError(
        'CONFLICT',
        'clientMessageId was already used for a different message or thread',
      );
    }
    const run = this.#sync.first(
      this.#db.selectFrom('runs').selectAll().where('message_id', '=', message.id).compile(),
    );
    if (!run) throw new AppError('INTERNAL', `run of message ${message.id} is missing`);
    return { message: toMessage(message), run: toRun(run), created: false };
  }

  #insertSent(input: SendRecord): SendResult {
    const now = Date.now();
    const message: MessageRow = {
      pos: 0,
      id: createMessageId(),
      thread_id: input.threadId,
      user_id: input.userId,
      role: 'user',
      content: input.content,
      run_id: createRunId(),
      client_message_id: input.clientMessageId,
      created_at: now,
    };
    const run: RunRow = {
      id: message.run_id!,
      thread_id: input.threadId,
      user_id: input.userId,
      message_id: message.id,
      agent: input.agent,
      status: 'queued',
      error_code: null,
      error_message: null,
      created_at: now,
      started_at: null,
      ended_at: null,
      duration_ms: null,
      terminal_seq: null,
    };
    const { pos: _pos, ...messageValues } = message;
    this.#sync.run(this.#db.insertInto('messages').values(messageValues).compile());
    this.#sync.run(this.#db.insertInto('runs').values(run).compile());
    touchThread(this.#records, input.threadId, now);
    return { message: toMessage(message), run: toRun(run), created: true };
  }

  appendAssistantMessage(input: {
    threadId: ThreadId;
    runId: RunId;
    content: string;
  }): Promise<Message> {
    return this.#call(() =>
      this.#writes
        .run(() => insertAnswer(this.#records, input))
        .catch((err: unknown) => {
          throw isForeignKeyViolation(err) ? threadNotFound(input.threadId) : err;
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
      return row ? toMessage(row) : null;
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
      const p = toPage({ rows, limit, kind: 'messages', pos: (r) => r.pos });
      return { items: p.rows.map(toMessage), nextCursor: p.nextCursor };
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
      return rows.reverse().map(toMessage);
    });
  }

  getRun(id: RunId): Promise<Run | null> {
    return this.#call(async (db) => {
      const row = await db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toRun(row) : null;
    });
  }

  updateRun(id: RunId, patch: RunPatch): Promise<Run> {
    return this.#call(() =>
      this.#writes.run(() => {
        const { row, changed } = transitionRun(this.#records, id, patch);
        return toRun(changed ?? row);
      }),
    );
  }

  completeRun(input: {
    runId: RunId;
    content: string;
    endedAt?: Date;
  }): Promise<{ run: Run; message: Message | null }> {
    const patch: RunPatch = { status: 'completed', endedAt: input.endedAt ?? new Date() };
    return this.#call(() =>
      this.#writes.run(() => {
        const { row, changed } = transitionRun(this.#records, input.runId, patch);
        if (!changed) return { run: toRun(row), message: null };
        const message = insertAnswer(this.#records, {
          threadId: row.thread_id,
          runId: row.id,
          content: input.content,
        });
        return { run: toRun(changed), message };
      }),
    );
  }

  listUnfinishedRuns(): Promise<Run[]> {
    return this.#call(async (db) => {
      const rows = await db
        .selectFrom('runs')
        .selectAll()
        .where(sql<boolean>`status in ('queued', 'running')`)
        .orderBy('created_at', 'asc')
        .orderBy('id', 'asc')
        .execute();
      return rows.map(toRun);
    });
  }

  ping(): Promise<void> {
    return this.#call(async (db) => {
      await sql`select 1`.execute(db);
    });
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#writes.flush();
      this.#onClose?.();
    }
    return Promise.resolve();
  }
}
