import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, test } from 'vitest';
import { startChildServer } from '../helpers/childServer.js';

const builtPage = fileURLToPath(new URL('../../web/dist/index.html', import.meta.url));

beforeAll(() => {
  if (!existsSync(builtPage)) throw new Error('web/dist is missing: run `npm run build`');
});

test('the server serves the built web chat at /, its assets, and in development a demo token', async () => {
  await using srv = await startChildServer({ devAuth: true });
  const page = await fetch(`${srv.url}/`);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('<title>Tracewire chat</title>');
  expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  expect(script).toBeDefined();
  const asset = await fetch(`${srv.url}${script}`);
  expect(asset.status).toBe(200);
  expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  expect((await fetch(`${srv.url}/web/dev-token`)).status).toBe(200);
});

test('TRACEWIRE_WEB=false: no page and no demo token, the API unchanged', async () => {
  await using srv = await startChildServer({ devAuth: true, env: { TRACEWIRE_WEB: 'false' } });
  expect((await fetch(`${srv.url}/`)).status).toBe(404);
  expect((await fetch(`${srv.url}/web/dev-token`)).status).toBe(404);
  expect((await fetch(`${srv.url}/health/live`)).status).toBe(200);
});
