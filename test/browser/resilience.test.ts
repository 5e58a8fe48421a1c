import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTerminalEvent, type StreamEvent } from '@tracewire/shared';
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { chromiumPresent, openChromium } from '../helpers/browser.js';
import { chatPage, type ChatPage } from '../helpers/chatPage.js';
import { startChildServer } from '../helpers/childServer.js';
import { collectUntil } from '../helpers/collect.js';
import { createPlainClient } from '../helpers/plainClient.js';
import { startTestServer } from '../helpers/server.js';

/** Records every value the connection badge takes, from now on. */
const recordStatuses = (page: Page) =>
  page.evaluate(() => {
    const badge = document.getElementById('status')!;
    const seen: string[] = [badge.dataset['status']!];
    (window as unknown as { statuses: string[] }).statuses = seen;
    new MutationObserver(() => seen.push(badge.dataset['status']!)).observe(badge, {
      attributes: true,
      attributeFilter: ['data-status'],
    });
  });
const statuses = (page: Page) =>
  page.evaluate(() => (window as unknown as { statuses: string[] }).statuses);

/** Waits until the page has shown at least `n` agent events. */
const waitForShown = (chat: ChatPage, n: number) =>
  chat.page.waitForFunction(
    (min) => document.querySelectorAll('#transcript [data-event-id]').length >= min,
    n,
    {
      timeout: 15_000,
    },
  );

/**
 * The thread's whole stream as a fresh plain @trpc/client replays it from the start, up to
 * the terminal event of the last run the page showed.
 */
async function replayStream(url: string, token: string, chat: ChatPage): Promise<StreamEvent[]> {
  const shown = await chat.shownEvents();
  const epoch = shown[0]!.id.split(':')[0]!;
  const lastRun = await chat.page.evaluate(
    () =>
      Array.from(document.querySelectorAll<HTMLElement>('#transcript .run')).at(-1)?.dataset[
        'runId'
      ],
  );
  await using client = createPlainClient({ url, token, transport: 'ws' });
  const threadId = await chat.threadId();
  const all = await collectUntil(
    (h) => client.trpc.agent.events.subscribe({ threadId, lastEventId: `${epoch}:0` }, h),
    (e) => isTerminalEvent(e) && e.runId === lastRun,
    10_000,
  );
  return all.map((r) => r.data);
}

/** The page showed exactly `stream`: every event once, in order. */
async function expectShownExactly(chat: ChatPage, stream: StreamEvent[]) {
  const shown = await chat.shownEvents();
  const ids = shown.map((e) => e.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toEqual(stream.map((e) => ('seq' in e ? `${e.epoch}:${e.seq}` : e.type)));
  expect(shown.map((e) => e.type)).toEqual(stream.map((e) => e.type));
}

describe.runIf(chromiumPresent)(
  'the web chat through failures, in Chromium',
  { timeout: 60_000 },
  () => {
    test('the server is killed mid-run and restarted: the page reconnects and shows every event once, in order', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'tracewire-restart-'));
      try {
        const env = { TRACEWIRE_AGENT_PACE_MS: '150' };
        let server = await startChildServer({ dataDir, env });
        const { url, port } = server;
        const token = await server.tokenFor('eve');
        await using chromium = await openChromium();
        const chat = chatPage(chromium.page);
        await chat.open(url, token);
        await recordStatuses(chromium.page);

        await chat.send('What is 6*7?');
        await waitForShown(chat, 3);
        // Mid-run: the process dies without a goodbye (no SHUTDOWN close, no terminal event).
        expect((await server.stop('SIGKILL')).signal).toBe('SIGKILL');
        await chromium.page.waitForSelector('#status:not([data-status="connected"])', {
          timeout: 10_000,
        });
        const shownBefore = (await chat.shownEvents()).length;
        server = await startChildServer({ dataDir, env, port });
        try {
          // The new process ends the unfinished run (agent_error SHUTDOWN) while the page is
          // away; the page resumes from its last event and shows it.
          await chat.waitForRun(1, /failed/, 20_000);
          expect(await chromium.page.textContent('.run .run-error')).toMatch(/^SHUTDOWN: /);
          expect(await chat.status()).toBe('connected');
          await chat.send('And 5+5?');
          await chat.waitForRun(2, /completed/, 20_000);
          const second = chromium.page.locator('#transcript .run').nth(1).locator('.answer');
          expect(await second.textContent()).toContain('5+5 = 10');

          expect(chromium.sockets()).toBeGreaterThanOrEqual(2);
          expect((await statuses(chromium.page)).slice(0, 2)).toEqual(['connected', 'connecting']);
          expect((await chat.shownEvents()).length).toBeGreaterThan(shownBefore);
          await expectShownExactly(chat, await replayStream(url, token, chat));
          await using plain = createPlainClient({ url, token, transport: 'ws' });
          const history = await plain.trpc.chat.history.query({ threadId: await chat.threadId() });
          expect(await chat.shownMessages()).toEqual(history.items.map((m) => [m.role, m.content]));
          expect(history.items.map((m) => m.role)).toEqual(['user', 'user', 'assistant']);
          expect(
            chromium.errors.filter((e) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(e)),
          ).toEqual([]);
        } finally {
          await server[Symbol.asyncDispose]();
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    test('the network is cut mid-stream (DevTools offline, then online): the page resumes and shows every event once, in order', async () => {
      // The server gives up on a silent peer within about a second, so the cut kills the socket
      // and the events published meanwhile reach the page only through the resume.
      await using srv = await startTestServer({
        env: {
          TRACEWIRE_AGENT_PACE_MS: '150',
          TRACEWIRE_WS_PING_MS: '300',
          TRACEWIRE_WS_PONG_WAIT_MS: '300',
        },
      });
      const token = await srv.tokenFor('fay');
      await using chromium = await openChromium();
      const chat = chatPage(chromium.page);
      await chat.open(srv.url, token);
      const cdp = await chromium.context.newCDPSession(chromium.page);
      await cdp.send('Network.enable');
      const network = (offline: boolean) =>
        cdp.send('Network.emulateNetworkConditions', {
          offline,
          latency: 0,
          downloadThroughput: -1,
          uploadThroughput: -1,
        });

      await chat.send('What is 7*8?');
      await waitForShown(chat, 3);
      const before = await chat.shownEvents();
      await network(true);
      const cutAt = Date.now();
      // Offline: nothing reaches the page; the server drops the silent socket meanwhile.
      await new Promise((r) => setTimeout(r, 2_500));
      expect((await chat.shownEvents()).length).toBe(before.length);
      const threadId = await chat.threadId();
      const published = await srv.server.services.events.read(threadId as never, 0, 1000);
      expect(published.length).toBeGreaterThan(before.length);
      await network(false);
      await chat.waitForRun(1, /completed/, 20_000);
      expect(Date.now() - cutAt).toBeGreaterThan(2_500);
      expect(chromium.sockets()).toBeGreaterThanOrEqual(2);

      const log = await srv.server.services.events.read(threadId as never, 0, 1000);
      await expectShownExactly(chat, log);
      expect(await chromium.page.textContent('.run .answer')).toContain('7*8 = 56');
      const history = await srv.server.services.store.listMessages(threadId as never, {
        limit: 10,
      });
      expect(await chat.shownMessages()).toEqual(history.items.map((m) => [m.role, m.content]));
    });
  },
);
