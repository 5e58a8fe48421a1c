import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Debian's Chromium, installed by `.ci/install-chromium` (CI runs it when missing). Nothing is
 * downloaded at test time: playwright-core only drives this binary.
 */
export const CHROMIUM_PATH = process.env['TRACEWIRE_CHROMIUM'] ?? '/usr/bin/chromium';

/** Where browser tests keep what a person should look at (screenshots); gitignored. */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../browser/artifacts/', import.meta.url));

/**
 * True when the browser tests can run. On CI they must: a missing Chromium fails them there
 * (see {@link openChromium}); elsewhere they are skipped with a note saying how to install it.
 */
export const chromiumPresent = existsSync(CHROMIUM_PATH) || process.env['CI'] !== undefined;
if (!chromiumPresent) {
  process.stderr.write(
    `browser tests skipped: no Chromium at ${CHROMIUM_PATH} (install it with .ci/install-chromium)\n`,
  );
}

/** One Chromium with a fresh profile, and what the page did that a test should check. */
export interface ChromiumPage extends AsyncDisposable {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught page errors (a CSP violation is one), in order. */
  readonly errors: string[];
  /** WebSockets the page opened (a reconnect opens another). */
  readonly sockets: () => number;
  /** Saves a PNG of the page under {@link ARTIFACTS_DIR}; returns its path. */
  screenshot(name: string): Promise<string>;
}

/**
 * Launches Debian's Chromium headless with a fresh user-data dir (removed on dispose) and
 * opens one page. Flags: no sandbox (root in CI), and none of the background traffic a
 * profile would start (updates, sync, safe browsing): the tests only talk to loopback.
 */
export async function openChromium(
  opts: { viewport?: { width: number; height: number } } = {},
): Promise<ChromiumPage> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: run .ci/install-chromium (apt chromium)`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'tracewire-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      viewport: opts.viewport ?? { width: 1100, height: 760 },
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  let sockets = 0;
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('websocket', () => sockets++);
  return {
    context,
    page,
    errors,
    sockets: () => sockets,
    async screenshot(name) {
      mkdirSync(ARTIFACTS_DIR, { recursive: true });
      const path = join(ARTIFACTS_DIR, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
    async [Symbol.asyncDispose]() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
