import {
  AppError,
  createClientMessageId,
  createMessageId,
  createRunId,
  createThreadId,
  type AppErrorCode,
  type ClientMessageId,
  type Thread,
  type UserId,
} from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import type { ChatStore, SendRecord } from './chatStore.js';

/** Makes a fresh, empty store; disposing it closes the store and removes its data. */
export type ChatStoreFactory = () => Promise<{ store: ChatStore } & AsyncDisposable>;

/** Resolves with the AppError a promise rejects with (fails the test if it resolves). */
async function appErrorOf(promise: Promise<unknown>): Promise<AppError> {
  const err: unknown = await promise.then(
    () => new Error('expected the call to fail'),
    (e: unknown) => e,
  );
  expect(AppError.is(err)).toBe(true);
  return err as AppError;
}

/** Asserts that `promise` rejects with an AppError of `code`. */
export async function expectAppError(promise: Promise<unknown>, code: AppErrorCode): Promise<void> {
  expect((await appErrorOf(promise)).code).toBe(code);
}

let userSeq = 0;
const newUser = (): UserId => `user-${process.pid}-${++userSeq}` as UserId;

function sendRecord(thread: Thread, overrides: Partial<SendRecord> = {}): SendRecord {
  return {
    threadId: thread.id,
    userId: thread.userId,
    content: 'hello',
    clientMessageId: createClientMessageId(),
    agent: 'demo',
    ...overrides,
  };
}

/**
 * The behaviour every {@link ChatStore} back end must have. Call once per back end with a
 * factory that gives a fresh store.
 */
export function describeChatStoreContract(name: string, factory: ChatStoreFactory): void {
  describe(`ChatStore contract: ${name}`, () => {
    test('creates a thread and reads it back with Date timestamps', async () => {
      await using ctx = await factory();
      const userId = newUser();
      const thread = await ctx.store.createThread({ agent: 'demo', userId, title: 'First' });
      expect(thread).toMatchObject({ userId, title: 'First' });
      expect(thread.createdAt).toBeInstanceOf(Date);
      expect(thread.updatedAt.getTime()).toBe(thread.createdAt.getTime());
      expect(await ctx.store.getThread(thread.id)).toEqual(thread);
    });

    test('returns null for unknown thread, message and run ids', async () => {
      await using ctx = await factory();
      expect(await ctx.store.getThread(createThreadId())).toBeNull();
      expect(await ctx.store.getRun(createRunId())).toBeNull();
      expect(await ctx.store.getMessage(createMessageId())).toBeNull();
    });

    test('lists only the user’s threads, newest first', async () => {
      await using ctx = await factory();
      const alice = newUser();
      const bob = newUser();
      const a1 = await ctx.store.createThread({ agent: 'demo', userId: alice, title: 'a1' });
      await ctx.store.createThread({ agent: 'demo', userId: bob, title: 'b1' });
      const a2 = await ctx.store.createThread({ agent: 'demo', userId: alice, title: 'a2' });
      const page = await ctx.store.listThreads(alice, { limit: 10 });
      expect(page.items.map((t) => t.id)).toEqual([a2.id, a1.id]);
      expect(page.nextCursor).toBeNull();
    });

    test('pages threads with cursors without duplicates or gaps', async () => {
      await using ctx = await factory();
      const userId = newUser();
      const created: string[] = [];
      for (let i = 0; i < 7; i++) {
        created.push((await ctx.store.createThread({ agent: 'demo', userId, title: `t${i}` })).id);
      }
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | undefined;
      for (let guard = 0; guard < 10; guard++) {
        const page = await ctx.store.listThreads(userId, { cursor, limit: 3 });
        seen.push(...page.items.map((t) => t.id));
        sizes.push(page.items.length);
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      expect(sizes).toEqual([3, 3, 1]);
      expect(seen).toEqual([...created].reverse());
    });

    test('counts a user’s threads and admits a create against that count atomically', async () => {
      await using ctx = await factory();
      const alice = newUser();
      const bob = newUser();
      expect(await ctx.store.countThreads(alice)).toBe(0);
      const seen: number[] = [];
      const cap = 3;
      const admit = (n: number) => {
        seen.push(n);
        if (n >= cap) throw new AppError('FORBIDDEN', `at most ${cap} threads per user`);
      };
      await ctx.store.createThread({ userId: bob, title: 'b', agent: 'demo', admit });
      for (let i = 0; i < cap; i++)
        await ctx.store.createThread({ userId: alice, title: `a${i}`, agent: 'demo', admit });
      await expectAppError(
        ctx.store.createThread({ userId: alice, title: 'over', agent: 'demo', admit }),
        'FORBIDDEN',
      );
      expect(seen).toEqual([0, 0, 1, 2, 3]);
      expect(await ctx.store.countThreads(alice)).toBe(cap);
      expect(await ctx.store.countThreads(bob)).toBe(1);
      // A refused create wrote nothing.
      expect((await ctx.store.listThreads(alice, { limit: 10 })).items.map((t) => t.title)).toEqual(
        ['a2', 'a1', 'a0'],
      );
    });

    test('concurrent creates never take a user past the cap the admission check enforces', async () => {
      await using ctx = await factory();
      const userId = newUser();
      const cap = 5;
      const admit = (n: number) => {
        if (n >= cap) throw new AppError('FORBIDDEN', `at most ${cap} threads per user`);
      };
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) =>
          ctx.store.createThread({ userId, title: `t${i}`, agent: 'demo', admit }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(cap);
      for (const r of results)
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'FORBIDDEN' });
      expect(await ctx.store.countThreads(userId)).toBe(cap);
    });

    test('rejects a malformed cursor with BAD_REQUEST', async () => {
      await using ctx = await factory();
      const userId = newUser();
      const thread = await ctx.store.createThread({ agent: 'demo', userId, title: 't' });
      for (const cursor of ['', 'not a cursor!', 'Zm9vYmFy', '%%%']) {
        await expectAppError(ctx.store.listThreads(userId, { cursor, limit: 5 }), 'BAD_REQUEST');
        await expectAppError(
          ctx.store.listMessages(thread.id, { cursor, limit: 5 }),
          'BAD_REQUEST',
        );
      }
    });

    test('refuses a cursor of one list on another list', async () => {
      await using ctx = await factory();
      const userId = newUser();
      const thread = await ctx.store.createThread({ agent: 'demo', userId, title: 't' });
      await ctx.store.createThread({ agent: 'demo', userId, title: 'u' });
      const threads = await ctx.store.listThreads(userId, { limit: 1 });
      expect(threads.nextCursor).not.toBeNull();
      await expectAppError(
        ctx.store.listMessages(thread.id, { cursor: threads.nextCursor!, limit: 5 }),
        'BAD_REQUEST',
      );
    });

    test('stores the thread’s agent and returns it from getThread and listThreads', async () => {
      await using ctx = await factory();
      const userId = newUser();
      const llm = await ctx.store.createThread({ userId, title: 'model', agent: 'llm' });
      const demo = await ctx.store.createThread({ userId, title: 'scripted', agent: 'demo' });
      expect(llm.agent).toBe('llm');
      expect((await ctx.store.getThread(llm.id))?.agent).toBe('llm');
      const page = await ctx.store.listThreads(userId, { limit: 10 });
      expect(page.items.map((t) => [t.id, t.agent])).toEqual([
        [demo.id, 'demo'],
        [llm.id, 'llm'],
      ]);
    });

    test('lists the last messages before a given one, oldest first', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'llm', userId: newUser(), title: 't' });
      const other = await ctx.store.createThread({
        agent: 'llm',
        userId: thread.userId,
        title: 'u',
      });
      const sent = [];
      for (const content of ['one', 'two', 'three']) {
        const { message, run } = await ctx.store.createMessageAndRun(
          sendRecord(thread, { content }),
        );
        await ctx.store.completeRun({ runId: run.id, content: `answer ${content}` });
        sent.push(message);
        await ctx.store.createMessageAndRun(sendRecord(other, { content: `other ${content}` }));
      }
      const third = sent[2]!;
      const all = await ctx.store.recentMessages(thread.id, { before: third.id, limit: 10 });
      expect(all.map((m) => [m.role, m.content])).toEqual([
        ['user', 'one'],
        ['assistant', 'answer one'],
        ['user', 'two'],
        ['assistant', 'answer two'],
      ]);
      const last = await ctx.store.recentMessages(thread.id, { before: third.id, limit: 3 });
      expect(last.map((m) => m.content)).toEqual(['answer one', 'two', 'answer two']);
      expect(await ctx.store.recentMessages(thread.id, { before: sent[0]!.id, limit: 5 })).toEqual(
        [],
      );
      await expectAppError(
        ctx.store.recentMessages(other.id, { before: third.id, limit: 5 }),
        'NOT_FOUND',
      );
      await expectAppError(
        ctx.store.recentMessages(thread.id, { before: createMessageId(), limit: 5 }),
        'NOT_FOUND',
      );
    });

    test('writes the user message and its queued run together', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const input = sendRecord(thread, { content: 'What time is it?', agent: 'clock' });
      const { message, run, created } = await ctx.store.createMessageAndRun(input);
      expect(created).toBe(true);
      expect(message).toMatchObject({
        threadId: thread.id,
        role: 'user',
        content: 'What time is it?',
        runId: run.id,
        clientMessageId: input.clientMessageId,
      });
      expect(run).toMatchObject({
        threadId: thread.id,
        userId: thread.userId,
        messageId: message.id,
        agent: 'clock',
        status: 'queued',
        error: null,
        startedAt: null,
        endedAt: null,
        durationMs: null,
      });
      expect(await ctx.store.getRun(run.id)).toEqual(run);
      expect(await ctx.store.getMessage(message.id)).toEqual(message);
    });

    test('bumps the thread’s updatedAt when a message is added', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      await new Promise((r) => setTimeout(r, 5));
      const { run } = await ctx.store.createMessageAndRun(sendRecord(thread));
      const afterSend = (await ctx.store.getThread(thread.id))!;
      expect(afterSend.updatedAt.getTime()).toBeGreaterThan(thread.updatedAt.getTime());
      expect(afterSend.createdAt).toEqual(thread.createdAt);
      await new Promise((r) => setTimeout(r, 5));
      await ctx.store.appendAssistantMessage({ threadId: thread.id, runId: run.id, content: 'hi' });
      const afterAnswer = (await ctx.store.getThread(thread.id))!;
      expect(afterAnswer.updatedAt.getTime()).toBeGreaterThan(afterSend.updatedAt.getTime());
    });

    test('returns the first message and run for a retry with the same clientMessageId', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const input = sendRecord(thread);
      const first = await ctx.store.createMessageAndRun(input);
      const retry = await ctx.store.createMessageAndRun({ ...input });
      expect(retry.created).toBe(false);
      expect(retry.message).toEqual(first.message);
      expect(retry.run).toEqual(first.run);
      const page = await ctx.store.listMessages(thread.id, { limit: 10 });
      expect(page.items).toHaveLength(1);
    });

    test('runs the admission check only for a new send, and a refusal writes nothing', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const input = sendRecord(thread);
      let checks = 0;
      const refuse = () => {
        checks++;
        throw new AppError('TOO_MANY_REQUESTS', 'full');
      };
      await expect(
        ctx.store.createMessageAndRun({ ...input, admit: refuse }),
      ).rejects.toMatchObject({
        code: 'TOO_MANY_REQUESTS',
      });
      expect((await ctx.store.listMessages(thread.id, { limit: 10 })).items).toHaveLength(0);
      const first = await ctx.store.createMessageAndRun({ ...input, admit: () => checks++ });
      const retry = await ctx.store.createMessageAndRun({ ...input, admit: refuse });
      expect(checks).toBe(2);
      expect(retry.created).toBe(false);
      expect(retry.run.id).toBe(first.run.id);
    });

    test('creates one message when the same send is issued concurrently', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const input = sendRecord(thread);
      const results = await Promise.all(
        Array.from({ length: 10 }, () => ctx.store.createMessageAndRun({ ...input })),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.run.id)).size).toBe(1);
      expect((await ctx.store.listMessages(thread.id, { limit: 50 })).items).toHaveLength(1);
    });

    test('rejects a reused clientMessageId with other content or thread as CONFLICT', async () => {
      await using ctx = await factory();
      const userId = newUser();
      const thread = await ctx.store.createThread({ agent: 'demo', userId, title: 't' });
      const other = await ctx.store.createThread({ agent: 'demo', userId, title: 'u' });
      const input = sendRecord(thread);
      await ctx.store.createMessageAndRun(input);
      await expectAppError(
        ctx.store.createMessageAndRun({ ...input, content: 'something else' }),
        'CONFLICT',
      );
      await expectAppError(
        ctx.store.createMessageAndRun({ ...input, threadId: other.id }),
        'CONFLICT',
      );
      expect((await ctx.store.listMessages(other.id, { limit: 10 })).items).toHaveLength(0);
    });

    test('scopes clientMessageId to the user', async () => {
      await using ctx = await factory();
      const t1 = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const t2 = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const clientMessageId = 'shared-key-123' as ClientMessageId;
      const a = await ctx.store.createMessageAndRun(sendRecord(t1, { clientMessageId }));
      const b = await ctx.store.createMessageAndRun(sendRecord(t2, { clientMessageId }));
      expect(a.created && b.created).toBe(true);
      expect(a.message.id).not.toBe(b.message.id);
    });

    test('rejects a send to a thread that does not exist with NOT_FOUND', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      await expectAppError(
        ctx.store.createMessageAndRun(sendRecord(thread, { threadId: createThreadId() })),
        'NOT_FOUND',
      );
    });

    test('appends an assistant message linked to its run', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const { run } = await ctx.store.createMessageAndRun(sendRecord(thread));
      const answer = await ctx.store.appendAssistantMessage({
        threadId: thread.id,
        runId: run.id,
        content: 'It is noon.',
      });
      expect(answer).toMatchObject({
        threadId: thread.id,
        role: 'assistant',
        content: 'It is noon.',
        runId: run.id,
        clientMessageId: null,
      });
      expect(answer.createdAt).toBeInstanceOf(Date);
      expect(await ctx.store.getMessage(answer.id)).toEqual(answer);
    });

    test('lists messages oldest first across pages without duplicates or gaps', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const written: string[] = [];
      for (let i = 0; i < 12; i++) {
        const { message, run } = await ctx.store.createMessageAndRun(
          sendRecord(thread, { content: `q${i}` }),
        );
        const answer = await ctx.store.appendAssistantMessage({
          threadId: thread.id,
          runId: run.id,
          content: `a${i}`,
        });
        written.push(message.id, answer.id);
      }
      const seen: string[] = [];
      const contents: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      for (; pages < 20; pages++) {
        const page = await ctx.store.listMessages(thread.id, { cursor, limit: 5 });
        seen.push(...page.items.map((m) => m.id));
        contents.push(...page.items.map((m) => m.content));
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      expect(pages + 1).toBe(5);
      expect(seen).toEqual(written);
      expect(contents.slice(0, 4)).toEqual(['q0', 'a0', 'q1', 'a1']);
    });

    test('sets timings on start and end and derives durationMs', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const { run } = await ctx.store.createMessageAndRun(sendRecord(thread));
      const startedAt = new Date(Date.now() - 1500);
      const running = await ctx.store.updateRun(run.id, { status: 'running', startedAt });
      expect(running).toMatchObject({
        status: 'running',
        startedAt,
        endedAt: null,
        durationMs: null,
      });
      const endedAt = new Date(startedAt.getTime() + 1234);
      const done = await ctx.store.updateRun(run.id, { status: 'completed', endedAt });
      expect(done).toMatchObject({
        status: 'completed',
        startedAt,
        endedAt,
        durationMs: 1234,
        error: null,
      });
      expect(await ctx.store.getRun(run.id)).toEqual(done);
    });

    test('stamps startedAt and endedAt when the transition does not give them', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const { run } = await ctx.store.createMessageAndRun(sendRecord(thread));
      const running = await ctx.store.updateRun(run.id, { status: 'running' });
      expect(running.startedAt).toBeInstanceOf(Date);
      const failed = await ctx.store.updateRun(run.id, {
        status: 'failed',
        error: { code: 'TIMEOUT', message: 'run timed out' },
      });
      expect(failed.endedAt).toBeInstanceOf(Date);
      expect(failed.durationMs).toBe(failed.endedAt!.getTime() - failed.startedAt!.getTime());
      expect(failed.error).toEqual({ code: 'TIMEOUT', message: 'run timed out' });
    });

    test('never changes a run that already ended', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const { run } = await ctx.store.createMessageAndRun(sendRecord(thread));
      const cancelled = await ctx.store.updateRun(run.id, {
        status: 'cancelled',
        error: { code: 'CANCELLED', message: 'cancelled by user' },
      });
      expect(cancelled).toMatchObject({ status: 'cancelled', startedAt: null, durationMs: null });
      for (const status of ['running', 'completed', 'failed', 'queued'] as const) {
        const again = await ctx.store.updateRun(run.id, {
          status,
          error: null,
          endedAt: new Date(0),
        });
        expect(again).toEqual(cancelled);
      }
      expect(await ctx.store.getRun(run.id)).toEqual(cancelled);
    });

    test('completes a run with its answer in one step, and never a run that already ended', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const { run } = await ctx.store.createMessageAndRun(sendRecord(thread));
      const startedAt = new Date(Date.now() - 800);
      await ctx.store.updateRun(run.id, { status: 'running', startedAt });
      const endedAt = new Date(startedAt.getTime() + 750);
      const done = await ctx.store.completeRun({ runId: run.id, content: 'It is noon.', endedAt });
      expect(done.run).toMatchObject({
        status: 'completed',
        endedAt,
        durationMs: 750,
        error: null,
      });
      expect(done.message).toMatchObject({
        threadId: thread.id,
        role: 'assistant',
        content: 'It is noon.',
        runId: run.id,
      });
      expect(await ctx.store.getRun(run.id)).toEqual(done.run);
      expect(await ctx.store.getMessage(done.message!.id)).toEqual(done.message);
      expect((await ctx.store.getThread(thread.id))!.updatedAt.getTime()).toBe(
        done.message!.createdAt.getTime(),
      );

      // Already ended (here: completed; the same for cancelled): unchanged, no second answer.
      const again = await ctx.store.completeRun({ runId: run.id, content: 'late' });
      expect(again).toEqual({ run: done.run, message: null });
      const { run: other } = await ctx.store.createMessageAndRun(
        sendRecord(thread, { content: 'q2' }),
      );
      const cancelled = await ctx.store.updateRun(other.id, {
        status: 'cancelled',
        error: { code: 'CANCELLED', message: 'cancelled by user' },
      });
      expect(await ctx.store.completeRun({ runId: other.id, content: 'late' })).toEqual({
        run: cancelled,
        message: null,
      });
      const messages = await ctx.store.listMessages(thread.id, { limit: 10 });
      expect(messages.items.map((m) => m.content)).toEqual([
        sendRecord(thread).content,
        'It is noon.',
        'q2',
      ]);
      await expectAppError(
        ctx.store.completeRun({ runId: createRunId(), content: 'x' }),
        'NOT_FOUND',
      );
    });

    test('rejects a transition of an unknown run with NOT_FOUND', async () => {
      await using ctx = await factory();
      await expectAppError(ctx.store.updateRun(createRunId(), { status: 'running' }), 'NOT_FOUND');
    });

    test('lists only queued and running runs as unfinished', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      const runs = [];
      for (let i = 0; i < 4; i++) {
        runs.push(
          (await ctx.store.createMessageAndRun(sendRecord(thread, { content: `m${i}` }))).run,
        );
      }
      await ctx.store.updateRun(runs[1]!.id, { status: 'running' });
      await ctx.store.updateRun(runs[2]!.id, { status: 'completed' });
      await ctx.store.updateRun(runs[3]!.id, { status: 'cancelled' });
      const unfinished = await ctx.store.listUnfinishedRuns();
      expect(unfinished.map((r) => r.id).sort()).toEqual([runs[0]!.id, runs[1]!.id].sort());
      expect(unfinished.map((r) => r.status).sort()).toEqual(['queued', 'running']);
    });

    test('answers ping while open', async () => {
      await using ctx = await factory();
      await expect(ctx.store.ping()).resolves.toBeUndefined();
    });

    test('fails every call with UNAVAILABLE after close', async () => {
      await using ctx = await factory();
      const thread = await ctx.store.createThread({ agent: 'demo', userId: newUser(), title: 't' });
      await ctx.store.close();
      await ctx.store.close();
      await expectAppError(ctx.store.ping(), 'UNAVAILABLE');
      await expectAppError(ctx.store.getThread(thread.id), 'UNAVAILABLE');
      await expectAppError(
        ctx.store.createThread({ agent: 'demo', userId: thread.userId, title: 'x' }),
        'UNAVAILABLE',
      );
      await expectAppError(ctx.store.createMessageAndRun(sendRecord(thread)), 'UNAVAILABLE');
      await expectAppError(ctx.store.listUnfinishedRuns(), 'UNAVAILABLE');
    });
  });
}
