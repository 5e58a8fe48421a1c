import type { AgentEvent, AppError, ThreadId } from '@tracewire/shared';

/** An event before the log assigns its position. */
export type AgentEventDraft = AgentEvent extends infer E
  ? E extends AgentEvent
    ? Omit<E, 'seq' | 'epoch'>
    : never
  : never;

/** Where a thread's stream stands. */
export interface StreamHead {
  /** Current epoch of the thread's stream. */
  epoch: string;
  /** Last seq written (0 when empty). */
  headSeq: number;
  /** Oldest seq still retained (headSeq + 1 when nothing is retained). */
  firstSeq: number;
}

/** Live listener; called in seq order, synchronously after the append commits. */
export type EventListener = (event: AgentEvent) => void;

/** Reports an {@link EventLog.enqueue}: the stored events, or the error (nothing stored). */
export type AppendCallback = (err: AppError | null, stored: readonly AgentEvent[]) => void;

/**
 * Per-thread ordered, durable event stream with live fan-out.
 * `append` assigns `seq` (monotonic, +1, per thread) and `epoch`; listeners see events in
 * seq order. Subscribe first, then read the backfill, so nothing falls between.
 *
 * Crash consistency (with the `ChatStore`): the log holds exactly one terminal event
 * (`agent_completed` | `agent_error`) for a run if and only if the store has the run
 * finished, at every instant and after any crash. The server writes terminal events only
 * through a `RunLedger` (storage/runLedger.ts), which keeps that rule; `append` itself does
 * not check it.
 *
 * Events handed out (to listeners, by `read`, by `append`) are frozen. A log that has an
 * event's exact JSON (the text it stored) hands it out with the event through
 * `freezePlainJson`; delivery takes it once, where the event enters a subscription
 * (`plainJsonText`), and carries it to the socket's writer, so an event is encoded once
 * however many subscribers it reaches. A log that does not is correct, only slower.
 */
export interface EventLog {
  /** Appends in order and notifies listeners; resolves with the stored events. */
  append(threadId: ThreadId, drafts: readonly AgentEventDraft[]): Promise<AgentEvent[]>;
  /**
   * `append` reporting to a callback instead of a promise: the per-event path of a running
   * agent, where a promise and its reaction per event cost more than taking the position.
   * Throws (nothing taken) when the call is refused; otherwise `done` runs exactly once,
   * never within the call, after the listeners have seen the events, or with the error when
   * nothing was stored. Calls are reported in the order they were made (producers rely on it).
   */
  enqueue(threadId: ThreadId, drafts: readonly AgentEventDraft[], done: AppendCallback): void;
  /** Events with `seq > afterSeq` in the current epoch, oldest first, at most `limit`. */
  read(threadId: ThreadId, afterSeq: number, limit: number): Promise<AgentEvent[]>;
  /**
   * The stream's position. Creates the stream (new epoch) when it does not exist yet.
   * `headSeq` is the last COMMITTED seq (events numbered but not yet committed are above
   * it), so two things hold for every back end, and callers rely on them:
   * - every event appended after `head()` resolves gets a seq greater than `headSeq`
   *   (`chat.send` and `chat.createThread` return positions read this way: a client that
   *   subscribes from them misses none of the events that follow);
   * - a listener registered before `head()` is called sees every event above `headSeq`
   *   (subscribe, then read the head and the backfill: nothing falls between).
   */
  head(threadId: ThreadId): Promise<StreamHead>;
  /** Live tail of one thread. Returns the unsubscribe function. */
  subscribe(threadId: ThreadId, listener: EventListener): () => void;
  /** Flushes and closes; listeners are dropped. */
  close(): Promise<void>;
}
