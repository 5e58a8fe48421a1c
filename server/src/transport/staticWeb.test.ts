import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { createAuthenticator } from '../auth/tokens.js';
import { loadConfig } from '../config.js';
import { pageSecurityHeaders } from './httpHeaders.js';
import { createStaticWeb, DEV_TOKEN_PATH } from './staticWeb.js';

const silent = pino({ level: 'silent' });

/** A built page in a temp dir, served by {@link createStaticWeb} on a real loopback server. */
async function serve(env: Record<string, string>, opts: { built?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tracewire-web-'));
  if (opts.built !== false) {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>chat</title>');
    writeFileSync(join(dir, 'assets/index-abc123.js'), 'console.log(1)');
  }
  const config = loadConfig({ TRACEWIRE_DATA_DIR: dir, ...env });
  const web = createStaticWeb({ config, logger: silent, dir });
  const server: Server = createServer((req, res) => {
    if (!web(req, res, (req.url ?? '/').split('?')[0]!)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    config,
    /** GET (or `method`) with an optional Host header; resolves status, headers and body. */
    get: (path: string, o: { host?: string; method?: string } = {}) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
        (resolve, reject) => {
          const req = request(
            {
              host: '127.0.0.1',
              port,
              path,
              method: o.method ?? 'GET',
              headers: o.host ? { host: o.host } : {},
            },
            (res) => {
              let body = '';
              res.on('data', (c: Buffer) => (body += c.toString()));
              res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
            },
          );
          req.on('error', reject);
          req.end();
        },
      ),
    async [Symbol.asyncDispose]() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('the web chat route', () => {
  test('serves the built page at / and its hashed assets under a strict CSP', async () => {
    await using web = await serve({ TRACEWIRE_AUTH_SECRET: 's'.repeat(40) });
    const page = await web.get('/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>chat</title>');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    const csp = pageSecurityHeaders()['content-security-policy']!;
    expect(page.headers['content-security-policy']).toBe(csp);
    expect(csp).toMatch(/script-src 'self';/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const asset = await web.get('/assets/index-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(asset.headers['cache-control']).toMatch(/immutable/);
    const head = await web.get('/', { method: 'HEAD' });
    expect(head).toMatchObject({ status: 200, body: '' });
    // Only files of the build exist: nothing else reaches the file system.
    for (const path of ['/assets/../../etc/passwd', '/index.html/..', '/nope.js', '/assets/']) {
      expect((await web.get(path)).status, path).toBe(404);
    }
    expect((await web.get('/', { method: 'POST' })).status).toBe(404);
  });

  test('TRACEWIRE_WEB=false serves nothing', async () => {
    await using web = await serve({ TRACEWIRE_WEB: 'false' });
    expect((await web.get('/')).status).toBe(404);
    expect((await web.get(DEV_TOKEN_PATH)).status).toBe(404);
  });

  test('without a build, / says how to build it', async () => {
    await using web = await serve({}, { built: false });
    const page = await web.get('/');
    expect(page.status).toBe(503);
    expect(page.body).toContain('npm run build');
  });

  test('in development with the dev secret, a loopback request gets a demo token for user demo', async () => {
    await using web = await serve({ NODE_ENV: 'development' });
    expect(web.config.auth.devSecret).toBe(true);
    for (const host of [undefined, 'localhost:3000', '[::1]:3000']) {
      const res = await web.get(DEV_TOKEN_PATH, host ? { host } : {});
      expect(res.status, host).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      const { token } = JSON.parse(res.body) as { token: string };
      const principal = await createAuthenticator(web.config.auth).verify(token);
      expect(principal.userId).toBe('demo');
    }
  });

  test('mints nothing under another Host name (DNS rebinding), with a configured secret, or in production', async () => {
    {
      await using web = await serve({ NODE_ENV: 'development' });
      expect((await web.get(DEV_TOKEN_PATH, { host: 'attacker.example:3000' })).status).toBe(404);
    }
    {
      await using web = await serve({
        NODE_ENV: 'development',
        TRACEWIRE_AUTH_SECRET: 's'.repeat(40),
      });
      expect((await web.get(DEV_TOKEN_PATH)).status).toBe(404);
    }
    {
      await using web = await serve({
        NODE_ENV: 'production',
        TRACEWIRE_AUTH_SECRET: 's'.repeat(40),
      });
      expect((await web.get(DEV_TOKEN_PATH)).status).toBe(404);
      expect((await web.get('/')).status).toBe(200);
    }
  });
});
