import type { Page } from 'playwright-core';

/** One agent event as the page showed it (`data-*` of its element). */
export interface ShownEvent {
  id: string;
  type: string;
  order: number;
}

/** A message of the transcript as a reader sees it: the user's, or an answer. */
export type ShownMessage = ['user' | 'assistant', string];

/**
 * Drives the web chat (web/) the way a person does: through its form, buttons and what it
 * shows; reads back what it rendered for the checks.
 */
export interface ChatPage {
  readonly page: Page;
  /** Opens the page with a token in the link (`#token=`), waits until it is connected. */
  open(url: string, token?: string): Promise<void>;
  /** Types a message and presses Enter. */
  send(text: string): Promise<void>;
  /** Waits until the run block of the `n`-th run (1-based) is in `state`. */
  waitForRun(n: number, state: RegExp, timeoutMs?: number): Promise<void>;
  /** Every event the page showed, in the order it showed them. */
  shownEvents(): Promise<ShownEvent[]>;
  /** Messages and answers in transcript order. */
  shownMessages(): Promise<ShownMessage[]>;
  /** The open thread's id. */
  threadId(): Promise<string>;
  /** The connection badge's `data-status`. */
  status(): Promise<string | null>;
}

/** A {@link ChatPage} on `page`. */
export function chatPage(page: Page): ChatPage {
  return {
    page,
    async open(url, token) {
      await page.goto(token ? `${url}/#token=${encodeURIComponent(token)}` : `${url}/`);
      await page.waitForSelector('#status[data-status="connected"]', { timeout: 15_000 });
      await page.waitForSelector('#thread-list li[aria-current="true"]', { timeout: 15_000 });
    },
    async send(text) {
      await page.fill('#message', text);
      await page.press('#message', 'Enter');
    },
    async waitForRun(n, state, timeoutMs = 15_000) {
      await page.waitForFunction(
        ({ n, source }) => {
          const run = document.querySelectorAll<HTMLElement>('#transcript .run')[n - 1];
          return run !== undefined && new RegExp(source).test(run.dataset['state'] ?? '');
        },
        { n, source: state.source },
        { timeout: timeoutMs },
      );
    },
    shownEvents: () =>
      page.evaluate(() =>
        Array.from(document.querySelectorAll<HTMLElement>('#transcript [data-event-id]'))
          .map((e) => ({
            id: e.dataset['eventId']!,
            type: e.dataset['type']!,
            order: Number(e.dataset['order']),
          }))
          .sort((a, b) => a.order - b.order),
      ),
    shownMessages: () =>
      page.evaluate(() =>
        Array.from(document.querySelectorAll<HTMLElement>('#transcript > li')).flatMap(
          (li): ['user' | 'assistant', string][] => {
            if (li.classList.contains('message'))
              return [[li.dataset['role'] === 'user' ? 'user' : 'assistant', li.textContent ?? '']];
            if (li.classList.contains('run') && li.dataset['state'] === 'completed')
              return [['assistant', li.querySelector('.answer')?.textContent ?? '']];
            return [];
          },
        ),
      ),
    threadId: async () =>
      (await page.getAttribute('#thread-list li[aria-current="true"] button', 'data-thread-id'))!,
    status: () => page.getAttribute('#status', 'data-status'),
  };
}
