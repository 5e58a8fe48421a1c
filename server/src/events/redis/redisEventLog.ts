import { AppError, createEpoch, type AgentEvent, type ThreadId } from '@tracewire/shared';
import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type {
  AgentEventDraft,
  AppendCallback,
  EventListener,
  EventLog,
  StreamHead,
} from '../eventLog.js';
import {
  committedEvent,
  encodeDraft,
  eventOfEntry,
  parseBatch,
  type EncodedDraft,
} from './codec.js';
import { redisToAppError, type ServerIdentity } from './connection.js';
import { terminalField, threadKeys, threadOfChannel } from './keys.js';
import { APPEND_LUA, HEAD_LUA, READ_LUA } from './scripts.js';
import { ThreadWatch, type CommittedBatch } from './threadWatch.js';

/** How much history each thread keeps in Redis. Unset limits keep everything. */
export interface RedisRetention {
  /** About this many events per thread (`MAXLEN ~`: Redis trims whole nodes, so a few more). */
  maxEventsPerThread?: number;
  /** Events older than this (by `ts`) are cut at the next append; an idle stream expires whole. */
  maxAgeMs?: number;
}

/** Options for {@link RedisEventLog}. */
export interface RedisEventLogOptions {
  /** Commands (appends, reads). The log defines its scripts on it. */
  redis: Redis;
  /** A dedicated connection for pub/sub (e.g. `redis.duplicate()`). */
  subscriber: Redis;
  /** Learns the Redis server's run id on each connect (epochs change with it). */
  identity: ServerIdentity;
  /** Key prefix (`tw:` by default in config). */
  prefix: string;
  retention?: RedisRetention | undefined;
  /**
   * The fencing token this instance holds for a run it owns (run coordination), sent with
   * each append: the script refuses an append whose token is not the run's current one.
   */
  fenceOf?: (runId: string) => string | undefined;
  logger?: Logger | undefined;
  /** How long a call waits for the connection to be back before it fails. @default 1000 */
  readyWaitMs?: number;
  /** Called once by `close()` (closes the connections). */
  onClose?: () => Promise<void>;
}

interface PendingCall {
  threadId: string;
  drafts: EncodedDraft[];
  done: AppendCallback;
  /** Set for {@link RedisEventLog.appendHeld}: receives the hold on the thread's live tail. */
  hold?: (release: () => void) => void;
  /** The live tail's hold, taken before the call is sent (its own publish must wait too). */
  tail?: (() => void) | undefined;
  stored: readonly AgentEvent[];
  error: AppError | null;
}

type AppendReply = [epoch: string, ...results: (number | string)[]];

interface Scripts {
  twAppend(meta: string, stream: string, ...args: (string | number)[]): Promise<AppendReply>;
  twHead(
    meta: string,
    stream: string,
    epoch: string,
    runId: string,
    maxEvents: number,
  ): Promise<[string, number, number]>;
  twRead(
    meta: string,
    stream: string,
    from: number,
    to: number | '+',
    count: number,
    maxEvents: number,
  ): Promise<[string, string[]][]>;
}

const NONE: readonly AgentEvent[] = Object.freeze([]);

/** Pending events that force a flush without waiting for the end of the turn. */
const MAX_PENDING_EVENTS = 4096;

/** Channels per SUBSCRIBE command when resubscribing. */
const SUBSCRIBE_CHUNK = 500;

// Captured at load so that tests using fake timers do not stall the log's writes.
const defer: (fn: () => void) => void = globalThis.setImmediate.bind(globalThis);

/** Why a call was refused by the fence check, as the script says it. */
function refusal(code: string): AppError {
  const [kind, runId] = code.split(':');
  if (kind === 'ENDED')
    return new AppError(
      'CONFLICT',
      `run ${runId} has ended: nothing is appended after its terminal event`,
    );
  if (kind === 'EXPIRED')
    return new AppError(
      'CONFLICT',
      `the lease of run ${runId} lapsed: this instance may no longer append to it`,
    );
  return new AppError('CONFLICT', `run ${runId} is owned by another instance (fenced off)`);
}

/**
 * The {@link EventLog} on Redis, shared by every instance of a cluster (after Centrifuge's
 * Redis broker). Per thread: a meta hash, a stream whose entry ids are the seqs, and a pub/sub
 * channel. The appends of one event-loop turn go out as one script call per thread (in one
 * pipeline) that numbers, stores, trims and publishes atomically; the calls are reported in
 * the order they were made, after this instance's listeners have seen their events. Listeners
 * get every instance's events through one channel subscription per watched thread.
 */
export class RedisEventLog implements EventLog {
  readonly #redis: Redis & Scripts;
  readonly #sub: Redis;
  readonly #identity: ServerIdentity;
  readonly #prefix: string;
  readonly #maxEvents: number;
  readonly #maxAgeMs: number;
  readonly #fenceOf: ((runId: string) => string | undefined) | undefined;
  readonly #logger: Logger | undefined;
  readonly #readyWaitMs: number;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #watches = new Map<string, ThreadWatch>();
  /** First seqs of held appends per thread (see {@link appendHeld}). */
  readonly #heldSeqs = new Map<string, Set<number>>();
  #pending: PendingCall[] = [];
  #pendingEvents = 0;
  #scheduled = false;
  readonly #inflight = new Set<Promise<void>>();
  /** The last batch's report while it waits for a live tail to fill a gap; later ones follow it. */
  #reportTail: Promise<void> | null = null;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(opts: RedisEventLogOptions) {
    this.#redis = opts.redis as Redis & Scripts;
    this.#sub = opts.subscriber;
    this.#identity = opts.identity;
    this.#prefix = opts.prefix;
    this.#maxEvents = positive(opts.retention?.maxEventsPerThread, 'maxEventsPerThread');
    this.#maxAgeMs = positive(opts.retention?.maxAgeMs, 'maxAgeMs');
    this.#fenceOf = opts.fenceOf;
    this.#logger = opts.logger;
    this.#readyWaitMs = opts.readyWaitMs ?? 1_000;
    this.#onClose = opts.onClose;
    if (!('twAppend' in opts.redis)) {
      opts.redis.defineCommand('twAppend', { numberOfKeys: 2, lua: APPEND_LUA });
      opts.redis.defineCommand('twHead', { numberOfKeys: 2, lua: HEAD_LUA });
      opts.redis.defineCommand('twRead', { numberOfKeys: 2, lua: READ_LUA });
    }
    this.#sub.on('message', (channel: string, message: string) =>
      this.#onMessage(channel, message),
    );
    this.#sub.on('ready', () => this.#resubscribeAll());
    this.#sub.on('close', () => {
      for (const w of this.#watches.values()) w.unconfirmed();
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'event log is closed');
  }

  append(threadId: ThreadId, drafts: readonly AgentEventDraft[]): Promise<AgentEvent[]> {
    return new Promise((resolve, reject) => {
      this.enqueue(threadId, drafts, (err, stored) =>
        err ? reject(err) : resolve(stored as AgentEvent[]),
      );
    });
  }

  enqueue(threadId: ThreadId, drafts: readonly AgentEventDraft[], done: AppendCallback): void {
    this.#enqueue(threadId, drafts, { done });
  }

  /**
   * Appends like `append`, but this instance shows these events (and anything after them)
   * only once `release` is called: its listeners get them then, and `head`/`read` stop before
   * them until then. The run ledger writes a run's record between its terminal event (the
   * commit point) and that release, so this instance never shows a run ended whose record
   * still says otherwise. Always release.
   */
  appendHeld(
    threadId: ThreadId,
    drafts: readonly AgentEventDraft[],
  ): Promise<{ events: AgentEvent[]; release: () => void }> {
    return new Promise((resolve, reject) => {
      let release: () => void = () => undefined;
      this.#enqueue(threadId, drafts, {
        done: (err, stored) =>
          err ? reject(err) : resolve({ events: stored as AgentEvent[], release }),
        hold: (r) => (release = r),
      });
    });
  }

  #enqueue(
    threadId: ThreadId,
    drafts: readonly AgentEventDraft[],
    report: { done: AppendCallback; hold?: (release: () => void) => void },
  ): void {
    const { done, hold } = report;
    this.#assertOpen();
    // Checked and encoded before anything is sent, so a bad payload fails only this call.
    const encoded: EncodedDraft[] = [];
    try {
      for (const d of drafts) encoded.push(encodeDraft(d, threadId));
    } catch (err) {
      throw AppError.is(err)
        ? err
        : new AppError('BAD_REQUEST', `event cannot be stored: ${String(err)}`, { cause: err });
    }
    // A held call goes out alone (what is pending first, then it): the channel message of
    // its script then carries its events only, and its thread's tail is held before it is sent.
    if (hold) this.#flush();
    this.#pending.push({
      threadId,
      drafts: encoded,
      done,
      stored: NONE,
      error: null,
      ...(hold ? { hold } : {}),
    });
    if (hold) {
      this.#pendingEvents = encoded.length;
      this.#flush();
      return;
    }
    this.#pendingEvents += encoded.length;
    if (this.#pendingEvents >= MAX_PENDING_EVENTS) this.#flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      defer(() => {
        this.#scheduled = false;
        this.#flush();
      });
    }
  }

  /** Sends everything pending: one script call per thread, all in one pipeline. */
  #flush(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    this.#pendingEvents = 0;
    const sending = this.#send(batch).finally(() => this.#inflight.delete(sending));
    this.#inflight.add(sending);
  }

  async #send(batch: PendingCall[]): Promise<void> {
    const byThread = new Map<string, PendingCall[]>();
    for (const call of batch) {
      if (call.drafts.length === 0) continue;
      const calls = byThread.get(call.threadId);
      if (calls) calls.push(call);
      else byThread.set(call.threadId, [call]);
    }
    const offered: (() => void)[] = [];
    if (byThread.size > 0) {
      try {
        const runId = await this.#identity.runId(this.#readyWaitMs);
        const pipeline = this.#redis.pipeline() as ChainableCommander & {
          twAppend(...args: (string | number)[]): ChainableCommander;
        };
        for (const [threadId, calls] of byThread) {
          pipeline.twAppend(...this.#appendArgs(threadId, calls, runId));
          const watch = this.#watches.get(threadId);
          if (watch) offered.push(watch.sending());
          for (const call of calls) if (call.hold) call.tail = watch?.hold();
        }
        const replies = (await pipeline.exec()) ?? [];
        let i = 0;
        for (const calls of byThread.values()) {
          const [err, reply] = replies[i++] ?? [new Error('no reply'), null];
          if (err) for (const call of calls) call.error = redisToAppError(err);
          else committed(calls, reply as AppendReply);
        }
      } catch (err) {
        const error = redisToAppError(err);
        this.#logger?.error({ err }, 'event log append failed');
        for (const calls of byThread.values()) for (const call of calls) call.error ??= error;
      }
    }
    this.#report(batch, byThread);
    for (const done of offered) done();
  }

  #appendArgs(threadId: string, calls: PendingCall[], runId: string): (string | number)[] {
    const keys = threadKeys(this.#prefix, threadId);
    const args: (string | number)[] = [
      keys.meta,
      keys.stream,
      createEpoch(),
      runId,
      this.#maxEvents,
      this.#maxAgeMs,
      keys.channel,
      calls.length,
    ];
    for (const call of calls) {
      args.push(call.drafts.length);
      for (const d of call.drafts) {
        const runOf = d.draft.runId;
        args.push(
          runOf,
          d.terminal ? '1' : '0',
          this.#fenceOf?.(runOf) ?? '',
          d.json,
          d.meta,
          d.draft.ts,
        );
      }
    }
    return args;
  }

  /**
   * Hands each thread's committed events to its live tail, then reports every call of the
   * batch in call order (never within an `enqueue`: this runs after the reply). A report
   * waits only when a live tail is filling a gap, and later batches wait behind it.
   */
  #report(batch: PendingCall[], byThread: Map<string, PendingCall[]>): void {
    const waits: Promise<void>[] = [];
    for (const [threadId, calls] of byThread) {
      const watch = this.#watches.get(threadId);
      const heldAt = calls.findIndex((c) => c.hold && c.error === null);
      const open = heldAt < 0 ? calls : calls.slice(0, heldAt);
      const events = open.flatMap((c) => c.stored);
      const first = events[0];
      if (watch && first) {
        const committed: CommittedBatch = {
          epoch: first.epoch,
          firstSeq: first.seq,
          count: events.length,
          events,
        };
        if (!watch.offer(committed)) waits.push(watch.idle());
      }
      if (heldAt >= 0) this.#hold(threadId, calls.slice(heldAt));
      for (const call of calls) if (call.hold && call.error !== null) call.tail?.();
    }
    const report = () => {
      for (const call of batch) {
        try {
          call.done(call.error, call.error ? NONE : call.stored);
        } catch (thrown) {
          this.#logger?.error({ err: thrown, threadId: call.threadId }, 'append callback threw');
        }
      }
    };
    // A held call goes out alone and its events are shown only at its release, which its
    // caller gets from this report: queued behind an earlier batch that waits for the live
    // tail (held since this call was sent) it would never come, and neither would the tail.
    const heldOnly = batch.every((call) => call.hold !== undefined);
    if (heldOnly || (waits.length === 0 && this.#reportTail === null)) {
      queueMicrotask(report);
      return;
    }
    const tail: Promise<void> = (this.#reportTail ?? Promise.resolve())
      .then(() => Promise.all(waits))
      .then(report)
      .finally(() => {
        if (this.#reportTail === tail) this.#reportTail = null;
      });
    this.#reportTail = tail;
  }

  /**
   * Holds a held call's events (and the calls after it) back from this instance: its live
   * tail queues them, and `head`/`read` stop before them, until the call's release. Released,
   * they go to whichever watch the thread has then (duplicates are dropped by seq).
   */
  #hold(threadId: string, calls: PendingCall[]): void {
    const rest = calls.flatMap((c) => c.stored);
    const first = rest[0];
    const releaseTail = calls[0]!.tail;
    if (!first) {
      releaseTail?.();
      return;
    }
    const seqs = this.#heldSeqs.get(threadId) ?? new Set<number>();
    seqs.add(first.seq);
    this.#heldSeqs.set(threadId, seqs);
    const batch = { epoch: first.epoch, firstSeq: first.seq, count: rest.length, events: rest };
    // Queued behind the hold taken before the send (with the channel's copy, if it came first).
    this.#watches.get(threadId)?.offer(batch);
    let released = false;
    calls[0]!.hold!(() => {
      if (released) return;
      released = true;
      seqs.delete(first.seq);
      if (seqs.size === 0 && this.#heldSeqs.get(threadId) === seqs) this.#heldSeqs.delete(threadId);
      releaseTail?.();
      this.#watches.get(threadId)?.offer(batch);
    });
  }

  /** The last seq this instance may show of a thread: before its first held event. */
  #visibleHead(threadId: string, head: number): number {
    const held = this.#heldSeqs.get(threadId);
    return held && held.size > 0 ? Math.min(head, Math.min(...held) - 1) : head;
  }

  read(threadId: ThreadId, afterSeq: number, limit: number): Promise<AgentEvent[]> {
    if (this.#closed) return Promise.reject(new AppError('UNAVAILABLE', 'event log is closed'));
    if (!(limit >= 1)) return Promise.resolve([]);
    const held = this.#heldSeqs.get(threadId);
    return this.#range(threadId, {
      after: Math.floor(afterSeq),
      count: Math.floor(limit),
      ...(held && held.size > 0 ? { until: Math.min(...held) - 1 } : {}),
    });
  }

  /** At most `count` events (default: all) with `after < seq <= until`, oldest first. */
  async #range(
    threadId: string,
    span: { after: number; until?: number; count?: number },
  ): Promise<AgentEvent[]> {
    const { after, until = '+', count = 0 } = span;
    const { meta, stream } = threadKeys(this.#prefix, threadId);
    try {
      const entries = await this.#redis.twRead(
        meta,
        stream,
        Math.max(0, after) + 1,
        until,
        count,
        this.#maxEvents,
      );
      return entries.map(eventOfEntry);
    } catch (err) {
      throw redisToAppError(err);
    }
  }

  async head(threadId: ThreadId): Promise<StreamHead> {
    this.#assertOpen();
    // Delivery subscribes, then reads the head: the channel subscription must be confirmed
    // first, or another instance's events in between would reach neither the head nor the tail.
    const watch = this.#watches.get(threadId);
    if (watch && !watch.ready) await this.#waitReady(watch);
    try {
      const runId = await this.#identity.runId(this.#readyWaitMs);
      const { meta, stream } = threadKeys(this.#prefix, threadId);
      const [epoch, headSeq, firstSeq] = await this.#redis.twHead(
        meta,
        stream,
        createEpoch(),
        runId,
        this.#maxEvents,
      );
      const visible = this.#visibleHead(threadId, Number(headSeq));
      return { epoch, headSeq: visible, firstSeq: Math.min(Number(firstSeq), visible + 1) };
    } catch (err) {
      throw redisToAppError(err);
    }
  }

  async #waitReady(watch: ThreadWatch): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AppError(
              'UNAVAILABLE',
              'Redis unavailable: the live tail subscription is not confirmed',
            ),
          ),
        this.#readyWaitMs * 5,
      );
    });
    try {
      await Promise.race([watch.whenReady(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  subscribe(threadId: ThreadId, listener: EventListener): () => void {
    this.#assertOpen();
    let watch = this.#watches.get(threadId);
    if (!watch) {
      watch = new ThreadWatch(threadId, this.#reader, this.#logger);
      this.#watches.set(threadId, watch);
      this.#subscribeChannels([watch]);
    }
    const remove = watch.add(listener);
    const w = watch;
    return () => {
      if (!remove() || this.#watches.get(threadId) !== w) return;
      this.#watches.delete(threadId);
      if (this.#sub.status === 'ready')
        this.#sub.unsubscribe(threadKeys(this.#prefix, threadId).channel).catch(() => undefined);
    };
  }

  readonly #reader = {
    range: (threadId: string, after: number, until: number) =>
      this.#pagedRange(threadId, after, until),
    peek: async (threadId: string) => {
      const { meta } = threadKeys(this.#prefix, threadId);
      const [epoch, head] = await this.#redis.hmget(meta, 'e', 's');
      if (epoch === null || epoch === undefined) return null;
      return { epoch, head: this.#visibleHead(threadId, Number(head ?? 0)) };
    },
  };

  async #pagedRange(threadId: string, after: number, until: number): Promise<AgentEvent[]> {
    const out: AgentEvent[] = [];
    for (let from = after; from < until;) {
      const page = await this.#range(threadId, { after: from, until, count: 500 });
      if (page.length === 0) break;
      out.push(...page);
      from = page[page.length - 1]!.seq;
    }
    return out;
  }

  /** Subscribes the channels of `watches` (when connected; `ready` resubscribes everything). */
  #subscribeChannels(watches: ThreadWatch[]): void {
    if (this.#sub.status !== 'ready' || watches.length === 0) return;
    const channels = watches.map((w) => threadKeys(this.#prefix, w.threadId).channel);
    this.#sub.subscribe(...channels).then(
      () => {
        for (const w of watches) if (this.#watches.get(w.threadId) === w) w.confirmed();
      },
      (err: unknown) => this.#logger?.warn({ err }, 'redis subscribe failed; retried on reconnect'),
    );
  }

  #resubscribeAll(): void {
    const all = [...this.#watches.values()];
    for (let i = 0; i < all.length; i += SUBSCRIBE_CHUNK)
      this.#subscribeChannels(all.slice(i, i + SUBSCRIBE_CHUNK));
  }

  #onMessage(channel: string, message: string): void {
    const threadId = threadOfChannel(this.#prefix, channel);
    const watch = threadId === null ? undefined : this.#watches.get(threadId);
    if (!watch) return;
    const published = parseBatch(message);
    if (!published) {
      this.#logger?.warn({ channel }, 'malformed event batch on the channel');
      return;
    }
    watch.offer({
      epoch: published.epoch,
      firstSeq: published.firstSeq,
      count: published.count,
      published,
    });
  }

  /**
   * The terminal event of a run, looked up by run id (crash reconciliation): its seq, and the
   * event unless retention dropped it. Null when the log holds no terminal event for the run.
   */
  async terminalOf(
    threadId: ThreadId,
    runId: string,
  ): Promise<{ seq: number; event: AgentEvent | null } | null> {
    this.#assertOpen();
    try {
      const seq = await this.#redis.hget(
        threadKeys(this.#prefix, threadId).meta,
        terminalField(runId),
      );
      if (seq === null) return null;
      const [event] = await this.#range(threadId, { after: Number(seq) - 1, until: Number(seq) });
      return { seq: Number(seq), event: event?.runId === runId ? event : null };
    } catch (err) {
      throw redisToAppError(err);
    }
  }

  /** Drops a thread's stream: the next `head` starts a new epoch (tests and operators). */
  async resetStream(threadId: ThreadId): Promise<StreamHead> {
    this.#assertOpen();
    const { meta, stream } = threadKeys(this.#prefix, threadId);
    try {
      await this.#redis.del(meta, stream);
    } catch (err) {
      throw redisToAppError(err);
    }
    return this.head(threadId);
  }

  /** Throws UNAVAILABLE when Redis does not answer (readiness probe). */
  async ping(): Promise<void> {
    this.#assertOpen();
    try {
      await this.#redis.ping();
    } catch (err) {
      throw redisToAppError(err);
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#flush();
      while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
      await this.#reportTail;
      this.#watches.clear();
      await this.#onClose?.();
    })();
    return this.#closing;
  }
}

/** Builds the stored events of a thread's calls from the script's reply. */
function committed(calls: PendingCall[], reply: AppendReply): void {
  const epoch = reply[0];
  for (let c = 0; c < calls.length; c++) {
    const call = calls[c]!;
    const first = reply[c + 1];
    if (typeof first === 'number')
      call.stored = call.drafts.map((d, k) => committedEvent(d, first + k, epoch));
    else call.error = refusal(String(first));
  }
}

function positive(value: number | undefined, name: string): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new AppError('BAD_REQUEST', `retention.${name} must be a positive integer`);
  return value;
}
