import type {
  ClientMessageId,
  Message,
  MessageId,
  Run,
  RunId,
  RunStatus,
  Thread,
  ThreadId,
  UserId,
} from '@tracewire/shared';

/** A page of results with an opaque cursor for the next page (`null` at the end). */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Paging options; `limit` is already clamped by the caller. */
export interface PageOptions {
  cursor?: string | undefined;
  limit: number;
}

/** What `chat.send` writes in one atomic step. */
export interface SendRecord {
  threadId: ThreadId;
  userId: UserId;
  content: string;
  clientMessageId: ClientMessageId;
  agent: string;
  /**
   * Admission check run only when the send is new (never for an idempotent retry), inside
   * the same atomic step; throw (e.g. TOO_MANY_REQUESTS) to refuse without writing.
   * A store shared by several instances (PostgreSQL) passes `state`, counted in that step
   * under a per-user lock, so the check holds cluster-wide; the embedded store passes
   * nothing (its one process counts its own runs).
   */
  admit?: (state?: AdmissionState) => void;
}

/** What a shared store tells {@link SendRecord.admit} about the user, from the database. */
export interface AdmissionState {
  /** The user's runs still queued or running, on every instance. */
  activeRuns: number;
}

/** Result of {@link ChatStore.createMessageAndRun}; `created` is false for an idempotent retry. */
export interface SendResult {
  message: Message;
  run: Run;
  created: boolean;
}

/** What `chat.createThread` writes. */
export interface NewThread {
  userId: UserId;
  title: string;
  /** The agent that answers the thread (a registered agent's name). */
  agent: string;
  /**
   * Admission check, given how many threads the user owns now, run inside the same atomic
   * step as the insert (so concurrent creates cannot pass it together); throw (e.g.
   * FORBIDDEN) to refuse without writing.
   */
  admit?: (threadCount: number) => void;
}

/** Fields a run transition may set. */
export interface RunPatch {
  status: RunStatus;
  startedAt?: Date;
  endedAt?: Date;
  error?: { code: string; message: string } | null;
}

/**
 * Threads, messages and runs. Async everywhere so that networked back ends
 * (PostgreSQL) fit behind the same contract; ownership checks are the caller's job.
 *
 * Crash consistency (with the {@link EventLog}): a run is finished here if and only if the
 * log holds exactly one terminal event for it, and its answer message exists if and only if
 * `agent_completed` does, at every instant and after any crash. Runs therefore end through a
 * `RunLedger` (storage/runLedger.ts), never through `updateRun` / `completeRun` alone, which
 * write no event: they are the record half a ledger builds on.
 */
export interface ChatStore {
  /** Creates a thread owned by `userId` (after `admit`, when given, accepts the user's count). */
  createThread(input: NewThread): Promise<Thread>;
  /** How many threads the user owns. */
  countThreads(userId: UserId): Promise<number>;
  /** A thread by id, or null. */
  getThread(id: ThreadId): Promise<Thread | null>;
  /** The user's threads, most recently created first. */
  listThreads(userId: UserId, page: PageOptions): Promise<Page<Thread>>;
  /**
   * Writes the user message and its queued run atomically. Idempotent on
   * (userId, clientMessageId): a retry returns the first message and run with `created: false`.
   */
  createMessageAndRun(input: SendRecord): Promise<SendResult>;
  /** Appends an assistant message to a thread (the final answer of a run). */
  appendAssistantMessage(input: {
    threadId: ThreadId;
    runId: RunId;
    content: string;
  }): Promise<Message>;
  /** A message by id, or null. */
  getMessage(id: MessageId): Promise<Message | null>;
  /** A thread's messages, oldest first. */
  listMessages(threadId: ThreadId, page: PageOptions): Promise<Page<Message>>;
  /**
   * The last `limit` messages of a thread written before message `before` (which is left
   * out), oldest first: what an agent shows a model as the conversation so far.
   * NOT_FOUND when `before` is not a message of that thread.
   */
  recentMessages(
    threadId: ThreadId,
    opts: { before: MessageId; limit: number },
  ): Promise<Message[]>;
  /** A run by id, or null. */
  getRun(id: RunId): Promise<Run | null>;
  /**
   * Applies a status transition; refuses to change a run that already ended (returns it
   * unchanged). A terminal status here writes no terminal event (see the rule above).
   */
  updateRun(id: RunId, patch: RunPatch): Promise<Run>;
  /**
   * Ends a run as `completed` with its answer, atomically: the assistant message is appended
   * and the status set together (one commit instead of two at the end of every run). A run
   * that already ended is returned unchanged and no message is written (`message: null`).
   * Writes no terminal event: the server ends runs with `RunLedger.finishRun`.
   */
  completeRun(input: {
    runId: RunId;
    content: string;
    endedAt?: Date;
  }): Promise<{ run: Run; message: Message | null }>;
  /** Runs still queued or running (after a crash, these need to be ended). */
  listUnfinishedRuns(): Promise<Run[]>;
  /** Throws when the store cannot serve requests (readiness probe). */
  ping(): Promise<void>;
  /** Flushes and closes. Further calls fail. */
  close(): Promise<void>;
}
