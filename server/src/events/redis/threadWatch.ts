import type { AgentEvent } from '@tracewire/shared';
import type { Logger } from 'pino';
import type { EventListener } from '../eventLog.js';
import { batchEvents, type BatchHeader } from './codec.js';

/** Committed events of one thread, contiguous in seq: from a local append or the channel. */
export interface CommittedBatch {
  epoch: string;
  firstSeq: number;
  count: number;
  /** Already decoded (a local append) … */
  events?: readonly AgentEvent[];
  /** … or decoded on demand (a message from the channel; duplicates are never decoded). */
  published?: BatchHeader;
}

/** What a watch reads from Redis to fill a gap or catch up. */
export interface WatchReader {
  /** Events with `after < seq <= until` of the stream as it is now, oldest first. */
  range(threadId: string, after: number, until: number): Promise<AgentEvent[]>;
  /** The stream's epoch and head without creating it; null when it does not exist. */
  peek(threadId: string): Promise<{ epoch: string; head: number } | null>;
}

interface Subscription {
  listener: EventListener;
  active: boolean;
}

/**
 * The live tail of one thread on this instance: its local listeners and the position they
 * have been given. Batches arrive from two sides (this instance's appends, as soon as they
 * commit, and the thread's pub/sub channel, for every instance's appends); the watch hands
 * each event to the listeners once, in seq order, filling a gap from the stream when a batch
 * arrives ahead of the one before it. After its channel subscription is confirmed (again,
 * after a reconnect) it catches up from the stream, so nothing committed in between is lost.
 */
export class ThreadWatch {
  readonly threadId: string;
  /** The position delivered so far; `epoch` null until the first batch or catch-up sets it. */
  epoch: string | null = null;
  last = 0;
  /** The channel subscription is confirmed (and the catch-up after it done). */
  ready = false;
  #subs: Subscription[] = [];
  #busy = false;
  #queue: CommittedBatch[] = [];
  #idleWaiters: (() => void)[] = [];
  #readyWaiters: (() => void)[] = [];
  /** Holds taken by {@link hold}: while any is taken, batches wait in order. */
  #holds = 0;
  /** This instance's appends to the thread that are sent and not yet offered. */
  readonly #sending = new Set<Promise<void>>();
  readonly #reader: WatchReader;
  readonly #logger: Logger | undefined;

  constructor(threadId: string, reader: WatchReader, logger?: Logger) {
    this.threadId = threadId;
    this.#reader = reader;
    this.#logger = logger;
  }

  get size(): number {
    return this.#subs.length;
  }

  /** Adds a listener; returns its removal (idempotent) and whether it was the last one. */
  add(listener: EventListener): () => boolean {
    const sub: Subscription = { listener, active: true };
    this.#subs = [...this.#subs, sub];
    return () => {
      if (!sub.active) return false;
      sub.active = false;
      this.#subs = this.#subs.filter((s) => s !== sub);
      return this.#subs.length === 0;
    };
  }

  /**
   * Takes a committed batch. Returns true when its events have been delivered (or were
   * already); false when they wait behind a gap being filled (see {@link idle}).
   */
  offer(batch: CommittedBatch): boolean {
    if (this.#busy || this.#holds > 0) {
      this.#queue.push(batch);
      return false;
    }
    this.#process(batch);
    return !this.#busy;
  }

  /**
   * Notes an append of this instance sent to Redis; call the returned function once its
   * batch has been offered (or failed). The catch-up waits for appends sent before its read.
   */
  sending(): () => void {
    let done!: () => void;
    const p = new Promise<void>((resolve) => (done = resolve));
    this.#sending.add(p);
    return () => {
      this.#sending.delete(p);
      done();
    };
  }

  /**
   * Holds delivery: batches offered from now on (from either side) wait, in order, until the
   * returned release (idempotent) is called. A run's terminal event is held until its record
   * is written, so this instance's subscribers never see a run ended before its record is.
   */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      this.#drain();
    };
  }

  /** Resolves once every batch offered so far has been handled. */
  idle(): Promise<void> {
    if (!this.#busy && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Resolves once the channel subscription is confirmed and the catch-up is done. */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** The channel subscription was lost (the subscriber connection dropped). */
  unconfirmed(): void {
    this.ready = false;
  }

  /** The channel subscription is confirmed: read what was committed meanwhile, then go live. */
  confirmed(): void {
    if (this.#busy) {
      // A fill is running: catch up once it is done.
      this.#queue.push({ epoch: '', firstSeq: 0, count: 0 });
      return;
    }
    this.#catchUp();
  }

  #process(batch: CommittedBatch): void {
    if (batch.count === 0) {
      // The marker `confirmed` queued while busy.
      this.#catchUp();
      return;
    }
    // No position yet: before the subscription is confirmed, the first committed batch seen
    // starts it (a reader resuming reads its head after the confirmation, so it is behind).
    if (this.epoch === null) {
      this.epoch = batch.epoch;
      this.last = batch.firstSeq - 1;
    } else if (batch.epoch !== this.epoch) {
      // A new epoch (Redis lost the stream or another Redis serves it): its events from seq 1.
      this.epoch = batch.epoch;
      this.last = 0;
    }
    const lastSeq = batch.firstSeq + batch.count - 1;
    if (lastSeq <= this.last) return;
    if (batch.firstSeq > this.last + 1) {
      this.#run(async () => {
        // Delivered even when the fill fails: the listeners' own delivery sees the gap and
        // reads it from the log, instead of never hearing of this batch.
        await this.#fill(batch.firstSeq - 1).catch((err: unknown) => this.#readFailed(err));
        this.#deliverBatch(batch);
      });
      return;
    }
    this.#deliverBatch(batch);
  }

  #deliverBatch(batch: CommittedBatch): void {
    if (batch.epoch !== this.epoch) return;
    const from = this.last + 1;
    if (batch.events) {
      this.#deliver(batch.events.slice(Math.max(0, from - batch.firstSeq)));
    } else if (batch.published && batch.firstSeq + batch.count - 1 >= from) {
      this.#deliver(batchEvents(batch.published, from));
    }
  }

  /** Reads the stream after the position up to `until` and delivers it (same epoch only). */
  async #fill(until: number): Promise<void> {
    const events = await this.#reader.range(this.threadId, this.last, until);
    this.#deliver(events.filter((e) => e.epoch === this.epoch));
  }

  #catchUp(): void {
    this.#run(async () => {
      try {
        // Appends sent before this read are in its head; their replies may be handled after
        // it (another promise chain): wait until they are offered (queued behind this step).
        const sentBefore = [...this.#sending];
        const now = await this.#reader.peek(this.threadId);
        await Promise.all(sentBefore);
        if (now === null) return;
        if (this.epoch === null) {
          // Start at the head, or before a batch that committed while the watch was waiting
          // for its confirmation (appended after the listener subscribed: it must hear it).
          const waiting = this.#queue.find((b) => b.count > 0 && b.epoch === now.epoch);
          this.epoch = now.epoch;
          this.last = waiting ? Math.min(now.head, waiting.firstSeq - 1) : now.head;
          return;
        }
        if (now.epoch !== this.epoch) {
          this.epoch = now.epoch;
          this.last = 0;
        }
        if (now.head > this.last) await this.#fill(now.head);
      } catch (err) {
        this.#readFailed(err);
      } finally {
        this.ready = true;
        const waiters = this.#readyWaiters;
        this.#readyWaiters = [];
        for (const w of waiters) w();
      }
    });
  }

  /** Runs an async step with the watch busy; batches offered meanwhile wait in order. */
  #run(step: () => Promise<void>): void {
    this.#busy = true;
    step()
      .catch((err: unknown) => this.#readFailed(err))
      .finally(() => {
        this.#busy = false;
        this.#drain();
      });
  }

  /** Handles queued batches until a step goes async or a hold stops it. */
  #drain(): void {
    while (!this.#busy && this.#holds === 0 && this.#queue.length > 0)
      this.#process(this.#queue.shift()!);
    if (!this.#busy && this.#queue.length === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  #readFailed(err: unknown): void {
    // The listeners' own delivery fills any gap left here from the log.
    this.#logger?.warn({ err, threadId: this.threadId }, 'live tail could not read the stream');
  }

  #deliver(events: readonly AgentEvent[]): void {
    if (events.length === 0) return;
    const subs = this.#subs;
    for (const event of events) {
      if (event.seq <= this.last) continue;
      this.last = event.seq;
      for (const sub of subs) {
        if (!sub.active) continue;
        try {
          sub.listener(event);
        } catch (err) {
          // One broken listener must not starve the others or fail the append.
          this.#logger?.error(
            { err, threadId: this.threadId, seq: event.seq },
            'event listener threw',
          );
        }
      }
    }
  }
}
