import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromiumPresent, openChromium } from '../helpers/browser.js';
import { startTestServer } from '../helpers/server.js';

const fixture = fileURLToPath(new URL('./fixtures/crossOrigin/', import.meta.url));

/** The fixture app, built like any app with Vite against the published SDK, served from its own origin. */
let site: { origin: string; server: Server; dir: string };

beforeAll(async () => {
  if (!chromiumPresent) return;
  const dir = mkdtempSync(join(tmpdir(), 'tracewire-other-origin-'));
  await build({
    root: fixture,
    logLevel: 'warn',
    configFile: false,
    build: { outDir: dir, emptyOutDir: true, modulePreload: { polyfill: false } },
  });
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' };
  const server = createServer((req, res) => {
    const path = req.url === '/' ? '/index.html' : (req.url ?? '/').split('?')[0]!;
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    try {
      const body = readFileSync(join(dir, path.replace(/\.\.+/g, '')));
      res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  site = { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, dir };
}, 60_000);

afterAll(async () => {
  if (!site) return;
  await new Promise<void>((resolve) => site.server.close(() => resolve()));
  rmSync(site.dir, { recursive: true, force: true });
});

interface Outcome {
  thread?: string;
  createThread?: { appCode: string; message: string; afterMs: number };
  streamRun?: { appCode: string; message: string; afterMs: number };
  events?: string[];
  answer?: string;
  state: string;
}

/** Opens the fixture page against `serverUrl` and waits for its outcome. */
async function visit(serverUrl: string, token: string): Promise<Outcome & { errors: string[] }> {
  await using chromium = await openChromium();
  const hash = new URLSearchParams({ server: serverUrl, token }).toString();
  await chromium.page.goto(`${site.origin}/#${hash}`);
  await chromium.page.waitForSelector('#result[data-done="true"]', { timeout: 30_000 });
  const outcome = JSON.parse((await chromium.page.textContent('#result'))!) as Outcome;
  return { ...outcome, errors: chromium.errors };
}

describe.runIf(chromiumPresent)(
  'a page on another origin, default ws+http transport',
  { timeout: 60_000 },
  () => {
    test('allowed by TRACEWIRE_ALLOWED_ORIGINS: it creates a thread and streams a run', async () => {
      await using srv = await startTestServer({
        env: { TRACEWIRE_ALLOWED_ORIGINS: `https://app.example, ${site.origin}` },
      });
      const outcome = await visit(srv.url, await srv.tokenFor('gus'));
      expect(outcome.createThread).toBeUndefined();
      expect(outcome.thread).toMatch(/^thr_/);
      expect(outcome.streamRun).toBeUndefined();
      expect(outcome.events?.[0]).toBe('agent_started');
      expect(outcome.events?.at(-1)).toBe('agent_completed');
      expect(outcome.answer).toContain('6*7 = 42');
      expect(outcome.state).toBe('connected');
      expect(outcome.errors).toEqual([]);
    });

    test('not allowed: the SDK fails the calls with a clear UNAVAILABLE within seconds, never hangs', async () => {
      await using srv = await startTestServer({
        env: { TRACEWIRE_ALLOWED_ORIGINS: 'https://app.example' },
      });
      const outcome = await visit(srv.url, await srv.tokenFor('hal'));
      // HTTP: the browser blocks the answer (no CORS headers): at once, naming the cause.
      expect(outcome.createThread).toMatchObject({ appCode: 'UNAVAILABLE' });
      expect(outcome.createThread!.message).toContain(`could not reach ${srv.url}/trpc`);
      expect(outcome.createThread!.message).toContain(
        `this page’s origin (${site.origin}) is not allowed by the server’s TRACEWIRE_ALLOWED_ORIGINS`,
      );
      expect(outcome.createThread!.afterMs).toBeLessThan(3_000);
      // WebSocket: the browser sees only close 1006; the pending subscription fails after the
      // SDK's default connect timeout (10 s) with the URL and the likely causes.
      expect(outcome.streamRun).toMatchObject({ appCode: 'UNAVAILABLE' });
      expect(outcome.streamRun!.message).toContain(`could not open a WebSocket to ${srv.wsUrl}`);
      expect(outcome.streamRun!.message).toContain(
        `this page’s origin (${site.origin}) is not in the server’s TRACEWIRE_ALLOWED_ORIGINS`,
      );
      expect(outcome.streamRun!.afterMs).toBeLessThan(15_000);
      expect(outcome.state).toBe('unavailable');
      expect(srv.server.transport.limits.stats().refusals.forbidden_origin).toBeGreaterThanOrEqual(
        2,
      );
      // Nothing was created on the server.
      const threads = await srv.server.services.store.listThreads('hal' as never, { limit: 10 });
      expect(threads.items).toEqual([]);
    });
  },
);
