import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createClientMessageId,
  isTerminalEvent,
  parseEventId,
  type AgentEvent,
  type Message,
  type StreamEvent,
} from '@tracewire/shared';
import { expect, test } from 'vitest';
import { startChildServer, type ChildServer } from '../helpers/childServer.js';
import { collectUntil, waitFor } from '../helpers/collect.js';
import { createPlainClient, type PlainClient } from '../helpers/plainClient.js';

/**
 * Issue 22: a SIGKILL at any moment never leaves a run without its terminal event. Plain
 * `@trpc/client` subscribers stream runs of the demo agent from `node server/dist/main.js`;
 * the process is killed with SIGKILL at random moments and started again on the same data
 * dir and port; the clients reconnect and resume by themselves. Checked from outside.
 */
const THREADS = 20;
const CYCLES = 12;
/**
 * Before each kill: runs must be ending (this many run ends seen by the clients since the
 * start, however loaded the machine), then a random pause up to KILL_JITTER_MS.
 */
const ENDS_BEFORE_KILL = THREADS;
const KILL_JITTER_MS = 800;
const SETTLE_MS = 15_000;
const ENV = {
  TRACEWIRE_AGENT_PACE_MS: '3',
  TRACEWIRE_RETENTION_MAX_EVENTS: '0',
  TRACEWIRE_MUTATIONS_PER_SECOND: '1000',
  TRACEWIRE_MUTATION_BURST: '1000',
};

/** Messages the participants cycle through: answers, a failing tool, a cancel race. */
const TURNS = [
  { content: 'what is 2 + 3 * 4?' },
  { content: 'count the words in this message' },
  { content: 'please fail-tool now' },
  { content: 'what is sqrt(16) + 1?', cancel: true },
  { content: 'hello there' },
] as const;

/** Retries a call that a kill may cut (same input: `chat.send` is idempotent on its key). */
async function retry<T>(fn: () => Promise<T>, deadline: number): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(30 + Math.random() * 120);
    }
  }
}

/** One user with one thread, subscribed for the whole test and sending run after run. */
interface Participant {
  user: string;
  token: string;
  client: PlainClient;
  threadId: string;
  /** Every frame the subscription delivered, across every kill. */
  shown: StreamEvent[];
  sent: string[];
  ended: Set<string>;
  errors: unknown[];
}

async function join_(url: string, user: string, token: string): Promise<Participant> {
  const client = createPlainClient({
    url,
    token,
    transport: 'ws',
    retryDelayMs: 30 + Math.floor(Math.random() * 150),
  });
  const thread = await client.trpc.chat.createThread.mutate({ title: user });
  const p: Participant = {
    user,
    token,
    client,
    threadId: thread.id,
    shown: [],
    sent: [],
    ended: new Set(),
    errors: [],
  };
  // tRPC resubscribes by itself after each reconnect, from the last tracked id.
  client.trpc.agent.events.subscribe(
    { threadId: thread.id },
    {
      onData: ({ data }) => {
        p.shown.push(data);
        if (isTerminalEvent(data)) p.ended.add(data.runId);
      },
      onError: (err) => p.errors.push(err),
    },
  );
  await waitFor(() => p.shown.length > 0, 10_000);
  return p;
}

/** Sends turn after turn until `stop()`; each waits for its run's end as the client sees it. */
async function drive(p: Participant, stopped: () => boolean): Promise<void> {
  for (let i = 0; !stopped(); i++) {
    const turn = TURNS[i % TURNS.length]!;
    const input = {
      threadId: p.threadId,
      content: turn.content,
      clientMessageId: createClientMessageId(),
    };
    const deadline = Date.now() + 30_000;
    const { run } = await retry(() => p.client.trpc.chat.send.mutate(input), deadline);
    p.sent.push(run.id);
    if ('cancel' in turn)
      await retry(() => p.client.trpc.chat.cancel.mutate({ runId: run.id }), deadline);
    // A run the store ended without its terminal event never ends here (the bug).
    while (!p.ended.has(run.id) && !stopped()) await sleep(5);
  }
}

/** The thread's whole log as a fresh plain client reads it: history's position, then a resume from 0. */
async function readBack(url: string, p: Participant) {
  await using reader = createPlainClient({ url, token: p.token, transport: 'ws' });
  const messages: Message[] = [];
  let lastEventId = '';
  for (let cursor: string | undefined; ;) {
    const page = await reader.trpc.chat.history.query({
      threadId: p.threadId,
      limit: 100,
      ...(cursor ? { cursor } : {}),
    });
    messages.push(...page.items);
    lastEventId ||= page.lastEventId;
    if (page.nextCursor === null) break;
    cursor = page.nextCursor;
  }
  const head = parseEventId(lastEventId)!;
  const frames =
    head.seq === 0
      ? []
      : await collectUntil(
          (h) =>
            reader.trpc.agent.events.subscribe(
              { threadId: p.threadId, lastEventId: `${head.epoch}:0` },
              h,
            ),
          (e) => e.type !== 'stream_position' && e.type !== 'resync' && e.seq >= head.seq,
          20_000,
        );
  const log = frames
    .map((f) => f.data)
    .filter((e): e is AgentEvent => e.type !== 'stream_position');
  const runIds = new Set([...p.sent, ...log.map((e) => e.runId)]);
  const runs = [];
  for (const runId of runIds) runs.push(await reader.trpc.agent.run.query({ runId }));
  return { messages, log, runs };
}

test(`SIGKILL at random moments during streaming (${CYCLES} kills): every run ends with exactly one terminal event that its record and answer agree with, and clients resume without gaps`, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tracewire-crash-'));
  let server: ChildServer | undefined;
  const participants: Participant[] = [];
  try {
    server = await startChildServer({ dataDir, env: ENV });
    const port = server.port;
    for (let i = 0; i < THREADS; i++) {
      const user = `crash-${i}`;
      participants.push(await join_(server.url, user, await server.tokenFor(user)));
    }
    let stopping = false;
    const driving = participants.map((p) =>
      drive(p, () => stopping).catch((err: unknown) => void p.errors.push(err)),
    );

    const kills: string[] = [];
    const endsSeen = () => participants.reduce((n, p) => n + p.ended.size, 0);
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const since = endsSeen();
      // Runs stop ending when every client waits for an end that never comes (the bug):
      // kill anyway, the checks below tell which.
      await waitFor(() => endsSeen() >= since + ENDS_BEFORE_KILL, 10_000).catch(() => undefined);
      await sleep(Math.random() * KILL_JITTER_MS);
      const exit = await server.stop('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      kills.push(`${participants.reduce((n, p) => n + p.sent.length, 0)} runs sent`);
      await server[Symbol.asyncDispose]();
      server = await startChildServer({ dataDir, env: ENV, port });
    }
    // After the last restart: no new runs; every run sent gets its end to the client.
    stopping = true;
    await Promise.all(driving);
    const allEnded = () => participants.every((p) => p.sent.every((id) => p.ended.has(id)));
    await waitFor(allEnded, SETTLE_MS).catch(() => undefined);

    const problems: string[] = [];
    let runsTotal = 0;
    let completedWithoutEvent = 0;
    const ends: Record<string, number> = {};
    for (const p of participants) {
      const { messages, log, runs } = await readBack(server.url, p);
      const shown = p.shown.filter((e): e is AgentEvent => e.type !== 'stream_position');
      const where = `thread ${p.threadId}`;
      if (p.errors.length > 0) problems.push(`${where}: client errors ${String(p.errors)}`);
      if (p.shown.some((e) => e.type === 'resync')) problems.push(`${where}: resync`);
      // Gapless and without duplicates, and nothing shown is missing or different now.
      const seqs = shown.map((e) => e.seq);
      if (seqs.some((s, i) => s !== i + 1))
        problems.push(`${where}: shown seqs not 1..n: ${seqs.join(',')}`);
      else if (shown.length !== log.length)
        problems.push(`${where}: client saw ${shown.length} of ${log.length} events`);
      else if (JSON.stringify(shown) !== JSON.stringify(log)) expect(shown).toEqual(log);
      for (const run of runs) {
        runsTotal++;
        const terminals = log.filter((e) => e.runId === run.id && isTerminalEvent(e));
        const answers = messages.filter((m) => m.role === 'assistant' && m.runId === run.id);
        const end = terminals[0];
        const what = `${where} run ${run.id} (${run.status})`;
        if (terminals.length !== 1) {
          if (run.status === 'completed' && terminals.length === 0) completedWithoutEvent++;
          problems.push(`${what}: ${terminals.length} terminal events`);
          continue;
        }
        ends[end!.type === 'agent_error' ? end!.code : 'completed'] =
          (ends[end!.type === 'agent_error' ? end!.code : 'completed'] ?? 0) + 1;
        if (end!.type === 'agent_completed') {
          if (run.status !== 'completed') problems.push(`${what}: agent_completed`);
          if (answers.length !== 1 || JSON.stringify(answers[0]) !== JSON.stringify(end!.message))
            problems.push(`${what}: ${answers.length} answers, not the event's message`);
        } else if (end!.type === 'agent_error') {
          const status = end!.code === 'CANCELLED' ? 'cancelled' : 'failed';
          if (run.status !== status || run.error?.code !== end!.code)
            problems.push(
              `${what}: agent_error ${end!.code}, record ${run.error?.code ?? 'no error'}`,
            );
          if (answers.length !== 0) problems.push(`${what}: an answer without agent_completed`);
        }
      }
    }
    console.log(
      `crash: ${CYCLES} SIGKILLs (${kills.join('; ')}), ${participants.length} threads, ${runsTotal} runs ` +
        `(${JSON.stringify(ends)}); completed without agent_completed: ${completedWithoutEvent}; problems: ${problems.length}`,
    );
    expect(problems).toEqual([]);
  } finally {
    await Promise.all(participants.map((p) => p.client.close()));
    if (server) await server[Symbol.asyncDispose]();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 150_000);
