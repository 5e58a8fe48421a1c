import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClientMessageId, isTerminalEvent } from '@tracewire/shared';
import type { AgentEvent, Message, Run, ThreadId, UserId } from '@tracewire/shared';
import { pino } from 'pino';
import type { Config } from '../../config.js';
import type { EventLog } from '../../events/eventLog.js';
import type { ChatStore } from '../../storage/chatStore.js';
import type { RunLedger } from '../../storage/runLedger.js';
import { openSqliteStorage } from '../../storage/sqlite/index.js';
import { createKeyedMutex } from '../../util/keyedMutex.js';
import type { KeyedMutex } from '../../util/keyedMutex.js';
import { createAgentRegistry } from '../registry.js';
import { createRunManager } from '../runManager.js';
import type { AgentDefinition, RunManager } from '../types.js';

/** A run manager on a real SQLite file in a temp dir, with helpers to send and observe runs. */
export interface EngineHarness extends AsyncDisposable {
  store: ChatStore;
  events: EventLog;
  ledger: RunLedger;
  locks: KeyedMutex;
  manager: RunManager;
  /** Writes a user message and its queued run (as chat.send does) without starting it. */
  createRun(opts: SendOptions): Promise<{ run: Run; message: Message }>;
  /** Writes a user message and its run, then starts the run. */
  send(opts: SendOptions): Promise<{ run: Run; message: Message }>;
  /** Resolves with the first event of the thread matching `predicate` (backfill included). */
  waitForEvent(threadId: ThreadId, predicate: (event: AgentEvent) => boolean): Promise<AgentEvent>;
  /** Resolves with the run's terminal event. */
  waitForEnd(run: Run): Promise<AgentEvent>;
  /** Every event of the thread, oldest first. */
  threadEvents(threadId: ThreadId): Promise<AgentEvent[]>;
  /** The run's events, oldest first. */
  runEvents(run: Run): Promise<AgentEvent[]>;
}

/** What to send; a new thread is created unless `threadId` is given. */
export interface SendOptions {
  content: string;
  userId?: string;
  agent?: string;
  threadId?: ThreadId;
}

const WAIT_LIMIT_MS = 10_000;

/** Starts a harness; dispose it with `await using`. */
export async function createEngineHarness(
  opts: {
    agents?: readonly AgentDefinition[];
    config?: Partial<Config['agent']>;
    /** Wraps the ledger the run manager uses (to make it fail). */
    wrapLedger?: (ledger: RunLedger) => RunLedger;
  } = {},
): Promise<EngineHarness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracewire-engine-'));
  const storage = await openSqliteStorage({ file: path.join(dir, 'test.db') });
  const { store, events, ledger } = storage;
  const locks = createKeyedMutex();
  const manager = createRunManager({
    store,
    events,
    ledger: opts.wrapLedger ? opts.wrapLedger(ledger) : ledger,
    locks,
    agents: createAgentRegistry(opts.agents ?? []),
    logger: pino({ level: 'silent' }),
    config: {
      paceMs: 0,
      runTimeoutMs: 5000,
      toolTimeoutMs: 1000,
      maxConcurrentRunsPerUser: 8,
      ...opts.config,
    },
  });

  async function createRun(send: SendOptions) {
    const userId = (send.userId ?? 'user-a') as UserId;
    const threadId =
      send.threadId ??
      (await store.createThread({ agent: send.agent ?? 'demo', userId, title: 'test thread' })).id;
    const { message, run } = await store.createMessageAndRun({
      threadId,
      userId,
      content: send.content,
      clientMessageId: createClientMessageId(),
      agent: send.agent ?? 'demo',
    });
    return { run, message };
  }

  async function threadEvents(threadId: ThreadId) {
    return events.read(threadId, 0, 10_000);
  }

  function waitForEvent(threadId: ThreadId, predicate: (event: AgentEvent) => boolean) {
    return new Promise<AgentEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`no matching event on ${threadId} within ${WAIT_LIMIT_MS} ms`));
      }, WAIT_LIMIT_MS);
      const done = (event: AgentEvent) => {
        clearTimeout(timer);
        unsubscribe();
        resolve(event);
      };
      // Subscribe first, then read the backfill, so nothing falls between.
      const unsubscribe = events.subscribe(threadId, (event) => {
        if (predicate(event)) done(event);
      });
      threadEvents(threadId).then((backfill) => {
        const hit = backfill.find(predicate);
        if (hit) done(hit);
      }, reject);
    });
  }

  return {
    store,
    events,
    ledger,
    locks,
    manager,
    createRun,
    async send(send) {
      const created = await createRun(send);
      manager.start(created.run, created.message);
      return created;
    },
    waitForEvent,
    waitForEnd: (run) =>
      waitForEvent(run.threadId, (e) => e.runId === run.id && isTerminalEvent(e)),
    threadEvents,
    runEvents: async (run) => (await threadEvents(run.threadId)).filter((e) => e.runId === run.id),
    async [Symbol.asyncDispose]() {
      await manager.shutdown(0);
      await storage.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
