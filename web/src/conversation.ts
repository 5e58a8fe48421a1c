import type { ThreadStream, TracewireClient } from '@tracewire/client';
import type { Transcript } from './transcript.js';

/** What a conversation reports to the page. */
export interface ConversationHooks {
  /** A call failed: show it (with its request id). */
  onError(error: unknown): void;
  /** The run the cancel button stops, or null when none is running. */
  onActiveRun(runId: string | null): void;
}

/** One open thread: its history, then its live stream, and the user's sends. */
export interface Conversation {
  /** Shows `threadId`: every page of its history, then its events from the history's position. */
  open(threadId: string): Promise<void>;
  /** Sends a message to the open thread. */
  send(content: string): Promise<void>;
  /** Cancels the running run, if any. */
  cancel(): Promise<void>;
  /**
   * The connection is back: if the live stream had given up meanwhile (the SDK retries a
   * failed subscription a bounded number of times), shows the thread again from its history.
   */
  resume(): Promise<void>;
  readonly threadId: string | null;
}

/**
 * The README's way to show a thread: page through `chat.history`, then subscribe with the
 * `lastEventId` of the last page (no gap, no double), and render each event as it arrives.
 * On `resync` (the position could not be resumed exactly) it does the same again.
 */
export function createConversation(
  client: TracewireClient,
  transcript: Transcript,
  hooks: ConversationHooks,
): Conversation {
  let threadId: string | null = null;
  let stream: ThreadStream | null = null;
  let generation = 0;
  let activeRun: string | null = null;
  /** The live stream ended with an error (a long outage): `resume` reloads the thread. */
  let broken = false;
  /** Runs whose terminal event was shown (it may come before the send's answer). */
  const ended = new Set<string>();

  const setActive = (runId: string | null) => {
    activeRun = runId;
    hooks.onActiveRun(runId);
  };

  /** History (all pages), then the live stream from its position. */
  async function load(id: string, gen: number): Promise<void> {
    stream?.close();
    stream = null;
    transcript.clear();
    let cursor: string | undefined;
    let lastEventId: string;
    do {
      const page = await client.trpc.chat.history.query({
        threadId: id,
        ...(cursor ? { cursor } : {}),
      });
      if (gen !== generation) return;
      for (const message of page.items) transcript.message(message);
      lastEventId = page.lastEventId;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const live = client.events(id, { lastEventId });
    stream = live;
    void follow(live, id, gen);
  }

  async function follow(live: ThreadStream, id: string, gen: number): Promise<void> {
    try {
      for await (const event of live) {
        if (gen !== generation) return;
        if (event.type === 'resync') {
          transcript.notice(`The stream was reset (${event.reason}); reloading the thread.`);
          await load(id, gen);
          return;
        }
        transcript.event(event);
        if (event.type === 'agent_started' && activeRun === null) setActive(event.runId);
        if (event.type === 'agent_completed' || event.type === 'agent_error') {
          ended.add(event.runId);
          if (event.runId === activeRun) setActive(null);
        }
      }
    } catch (error) {
      if (gen !== generation) return;
      broken = true;
      hooks.onError(error);
    }
  }

  return {
    get threadId() {
      return threadId;
    },
    async open(id) {
      const gen = ++generation;
      threadId = id;
      broken = false;
      setActive(null);
      await load(id, gen);
    },
    async resume() {
      if (!broken || !threadId) return;
      const gen = ++generation;
      broken = false;
      await load(threadId, gen);
    },
    async send(content) {
      if (!threadId) throw new Error('no thread is open');
      const sent = await client.send(threadId, content);
      transcript.message(sent.message);
      if (
        !ended.has(sent.run.id) &&
        (sent.run.status === 'queued' || sent.run.status === 'running')
      )
        setActive(sent.run.id);
    },
    async cancel() {
      if (activeRun) await client.trpc.chat.cancel.mutate({ runId: activeRun });
    },
  };
}
