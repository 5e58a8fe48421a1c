import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { signToken } from '../auth/tokens.js';
import type { Config } from '../config.js';
import { pageSecurityHeaders } from './httpHeaders.js';

/** Where `npm run build` puts the web chat (web/dist, built by Vite from web/). */
export const WEB_DIST_DIR = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

/** The page's demo-token route (development on loopback only). */
export const DEV_TOKEN_PATH = '/web/dev-token';

/**
 * The transport's policy for pages (httpHeaders.ts): own-origin scripts, styles and
 * connections only, no inline script or style, nothing framed. `connect-src 'self'` covers the
 * page's WebSocket to the same host too.
 */
const PAGE_HEADERS = pageSecurityHeaders();

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
  /** Vite's hashed file names never change content: cache them for good. */
  immutable: boolean;
}

/** Options of {@link createStaticWeb}. */
export interface StaticWebOptions {
  config: Pick<Config, 'web' | 'isDev' | 'auth'>;
  logger: Logger;
  /** Built assets; {@link WEB_DIST_DIR} by default. */
  dir?: string;
}

/** Answers a request when it is the page's; false leaves it to the next handler. */
export type StaticWebHandler = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

/** Every file under `dir` by URL path (`/index.html`, `/assets/x.js`); null when `dir` is missing. */
function loadAssets(dir: string): Map<string, Asset> | null {
  let names: string[];
  try {
    names = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    return null;
  }
  const assets = new Map<string, Asset>();
  for (const name of names) {
    const file = join(dir, name);
    if (!statSync(file).isFile()) continue;
    const url = `/${relative(dir, file).split(sep).join('/')}`;
    assets.set(url, {
      body: readFileSync(file),
      type: CONTENT_TYPES[extname(name)] ?? 'application/octet-stream',
      immutable: url.startsWith('/assets/'),
    });
  }
  return assets.has('/index.html') ? assets : null;
}

const LOOPBACK_ADDRESS = /^(?:127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;
const LOOPBACK_HOST = /^(?:localhost|127\.\d+\.\d+\.\d+|\[::1\])(?::\d+)?$/i;

/**
 * A request from this machine to a loopback name: the only one that may get a demo token.
 * The `Host` check keeps a page from another site out even when its name resolves to
 * 127.0.0.1 (DNS rebinding); without CORS headers no other origin can read the answer anyway.
 */
const isLoopbackRequest = (req: IncomingMessage) =>
  LOOPBACK_ADDRESS.test(req.socket.remoteAddress ?? '') &&
  LOOPBACK_HOST.test(req.headers.host ?? '');

/**
 * Serves the web chat built from web/ at `/` (files loaded once, at start: only they can be
 * served, so no path reaches the file system) under a strict Content-Security-Policy, and in
 * development, to loopback requests only, a demo token for it at {@link DEV_TOKEN_PATH}. The
 * token is minted only with the built-in dev secret (no `TRACEWIRE_AUTH_SECRET`), never in
 * production: there the page asks for a token. `TRACEWIRE_WEB=false` serves none of it.
 */
export function createStaticWeb(opts: StaticWebOptions): StaticWebHandler {
  const { config, logger } = opts;
  if (!config.web.enabled) return () => false;
  const dir = opts.dir ?? WEB_DIST_DIR;
  const assets = loadAssets(dir);
  if (!assets) {
    logger.warn({ dir }, 'web chat not built (no index.html): `npm run build` builds it');
  }
  const devToken =
    config.isDev && config.auth.devSecret
      ? () => signToken({ ...config.auth, userId: 'demo', expiresIn: '30d' })
      : null;

  return (req, res, path) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === DEV_TOKEN_PATH) {
      if (!devToken || !isLoopbackRequest(req)) return false;
      devToken().then(
        (token) => {
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          res.end(JSON.stringify({ token, userId: 'demo' }));
        },
        (err: unknown) => {
          logger.error({ err }, 'demo token could not be signed');
          res.writeHead(500).end();
        },
      );
      return true;
    }
    const url = path === '/' ? '/index.html' : path;
    if (!assets) {
      if (url !== '/index.html') return false;
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', ...PAGE_HEADERS });
      res.end('The web chat is not built: run `npm run build` (npm start does), then reload.\n');
      return true;
    }
    const asset = assets.get(url);
    if (!asset) return false;
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': String(asset.body.length),
      'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...PAGE_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
    return true;
  };
}
