import { describe, expect, test } from 'vitest';
import { chromiumPresent, openChromium } from '../helpers/browser.js';
import { chatPage } from '../helpers/chatPage.js';
import { startChildServer } from '../helpers/childServer.js';

describe.runIf(chromiumPresent)(
  'how the page gets its token, in Chromium',
  { timeout: 60_000 },
  () => {
    test('after `npm start` in development, the page on loopback gets a demo token without copy-paste', async () => {
      await using server = await startChildServer({ devAuth: true });
      await server.waitForLine(/Demo token \(user "demo"/);
      await using chromium = await openChromium();
      const chat = chatPage(chromium.page);
      await chat.open(server.url); // no token in the link
      expect(await chromium.page.textContent('#user')).toBe('demo');
      expect(await chromium.page.isHidden('#token-form')).toBe(true);
      await chat.send('What is 1+2?');
      await chat.waitForRun(1, /completed/);
      expect(await chromium.page.textContent('.run .answer')).toContain('1+2 = 3');
      expect(chromium.errors).toEqual([]);
    });

    test('in production the server mints nothing and the page asks for a token', async () => {
      await using server = await startChildServer({ env: { NODE_ENV: 'production' } });
      expect(server.output()).not.toContain('Demo token');
      expect((await fetch(`${server.url}/web/dev-token`)).status).toBe(404);
      await using chromium = await openChromium();
      await chromium.page.goto(`${server.url}/`);
      await chromium.page.waitForSelector('#token-form:not([hidden])');
      expect(await chromium.page.isHidden('#app')).toBe(true);

      // A token the server refuses: asked again, with the reason.
      await chromium.page.fill('#token-input', 'not-a-jwt');
      await chromium.page.click('#token-form button');
      await chromium.page.waitForSelector('#token-error:not([hidden])', { timeout: 10_000 });
      expect(await chromium.page.textContent('#token-error')).toMatch(/refused that token/);

      await chromium.page.fill('#token-input', await server.tokenFor('ivy'));
      await chromium.page.click('#token-form button');
      await chromium.page.waitForSelector('#status[data-status="connected"]');
      await chromium.page.waitForSelector('#thread-list li[aria-current="true"]');
      expect(await chromium.page.textContent('#user')).toBe('ivy');
      const chat = chatPage(chromium.page);
      await chat.send('What is 2+5?');
      await chat.waitForRun(1, /completed/);
      expect(await chromium.page.textContent('.run .answer')).toContain('2+5 = 7');
    });
  },
);
