import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { chromiumPresent, openChromium } from '../helpers/browser.js';
import { chatPage } from '../helpers/chatPage.js';
import { startTestServer } from '../helpers/server.js';

const builtPage = fileURLToPath(new URL('../../web/dist/index.html', import.meta.url));

/** The history of a thread as [role, content] pairs (what the page should show). */
async function historyOf(srv: Awaited<ReturnType<typeof startTestServer>>, threadId: string) {
  const { store } = srv.server.services;
  const page = await store.listMessages(threadId as never, { limit: 100 });
  return page.items.map((m) => [m.role, m.content]);
}

describe.runIf(chromiumPresent)('the web chat in Chromium', { timeout: 60_000 }, () => {
  beforeAll(() => {
    if (!existsSync(builtPage)) throw new Error('web/dist is missing: run `npm run build`');
  });

  test('a message sent from the page streams its answer in, with thinking and tool calls as they happen', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_AGENT_PACE_MS: '60' } });
    await using chromium = await openChromium();
    const chat = chatPage(chromium.page);
    await chat.open(srv.url, await srv.tokenFor('ada'));
    expect(await chromium.page.textContent('#user')).toBe('ada');

    await chat.send('What is 6*7?');
    // While the run is still going: the thinking, a tool call, then part of the answer.
    await chromium.page.waitForSelector('.run[data-state="running"] .thinking', {
      timeout: 10_000,
    });
    await chromium.page.waitForSelector('.run[data-state="running"] .tool', { timeout: 10_000 });
    await chromium.page.waitForSelector('.run[data-state="running"] .answer span', {
      timeout: 10_000,
    });
    const partial = await chromium.page.textContent('.run .answer');
    expect(await chromium.page.isEnabled('#cancel')).toBe(true);
    await chat.waitForRun(1, /completed/);
    const answer = await chromium.page.textContent('.run .answer');
    expect(answer).toContain('6*7 = 42');
    expect(answer!.length).toBeGreaterThan(partial!.length);
    expect(await chromium.page.textContent('.run .tool-result')).toContain('"value":42');
    expect(await chromium.page.isEnabled('#cancel')).toBe(false);

    // Every event of the thread, once, in order; the messages are the thread's history.
    const threadId = await chat.threadId();
    const log = await srv.server.services.events.read(threadId as never, 0, 1000);
    const shown = await chat.shownEvents();
    expect(shown.map((e) => e.id)).toEqual(log.map((e) => `${e.epoch}:${e.seq}`));
    expect(shown.map((e) => e.type)).toEqual(log.map((e) => e.type));
    expect(await chat.shownMessages()).toEqual(await historyOf(srv, threadId));
    expect(chromium.errors).toEqual([]); // no CSP violation, no script error
    await chromium.screenshot('chat');
  });

  test('cancel stops the running run and the page shows it cancelled', async () => {
    await using srv = await startTestServer();
    await using chromium = await openChromium();
    const chat = chatPage(chromium.page);
    await chat.open(srv.url, await srv.tokenFor('bea'));
    await chat.send('take your time: slow-run');
    await chromium.page.waitForSelector('.run .thinking:has-text("takes a while")', {
      timeout: 10_000,
    });
    await chromium.page.click('#cancel');
    await chat.waitForRun(1, /cancelled/);
    expect(await chromium.page.textContent('.run .run-error')).toMatch(/^CANCELLED: /);
    expect(await chromium.page.isEnabled('#cancel')).toBe(false);
    const threadId = await chat.threadId();
    const runs = await srv.server.services.events.read(threadId as never, 0, 100);
    expect(runs.at(-1)).toMatchObject({ type: 'agent_error', code: 'CANCELLED' });
    expect(chromium.errors).toEqual([]);
  });

  test('a refused call shows its code and its request id', async () => {
    await using srv = await startTestServer();
    await using chromium = await openChromium();
    const chat = chatPage(chromium.page);
    await chat.open(srv.url, await srv.tokenFor('cy'));
    await chat.send('x'.repeat(32_001)); // over INPUT_LIMITS.contentMaxChars
    const banner = chromium.page.locator('#error');
    await banner.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await banner.getAttribute('data-app-code')).toBe('BAD_REQUEST');
    const requestId = await banner.getAttribute('data-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await banner.textContent()).toBe(
      `BAD_REQUEST: content: Too big: expected string to have <=32000 characters (request ${requestId})`,
    );
  });

  test('the thread list: a new chat, and back to the first, shown from its history, still live', async () => {
    await using srv = await startTestServer({ env: { TRACEWIRE_AGENT_PACE_MS: '0' } });
    await using chromium = await openChromium();
    const chat = chatPage(chromium.page);
    await chat.open(srv.url, await srv.tokenFor('dee'));
    const first = await chat.threadId();
    await chat.send('What is 2+2?');
    await chat.waitForRun(1, /completed/);

    await chromium.page.click('#new-thread');
    await chromium.page.waitForFunction(
      (id) =>
        document
          .querySelector('#thread-list li[aria-current="true"] button')
          ?.getAttribute('data-thread-id') !== id,
      first,
    );
    expect(await chromium.page.locator('#thread-list li').count()).toBe(2);
    expect(await chat.shownMessages()).toEqual([]);

    // Back to the first thread, then a reload (the token stays with the tab): both times the
    // thread comes from history, and the live stream goes on from its position.
    await chromium.page.click(`#thread-list button[data-thread-id="${first}"]`);
    await chromium.page.waitForSelector('#transcript .message.assistant');
    expect(await chat.shownMessages()).toEqual(await historyOf(srv, first));
    await chromium.page.reload();
    await chromium.page.waitForSelector('#status[data-status="connected"]');
    expect(await chat.threadId()).not.toBe(first); // the newest thread opens first
    await chromium.page.click(`#thread-list button[data-thread-id="${first}"]`);
    await chromium.page.waitForSelector('#transcript .message.assistant');
    await chat.send('And 3+3?');
    await chat.waitForRun(1, /completed/);
    expect(await chromium.page.textContent('.run .answer')).toContain('3+3 = 6');
    expect(await chat.shownMessages()).toEqual(await historyOf(srv, first));
    expect(chromium.errors).toEqual([]);
  });
});
