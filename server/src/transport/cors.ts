import type { IncomingMessage, ServerResponse } from 'node:http';
import { isOriginAllowed } from './origin.js';

/** Request headers a page may send to `/trpc`: the bearer token, JSON bodies, tRPC's stream accept. */
const ALLOWED_HEADERS = 'authorization, content-type, trpc-accept';
/** How long a browser may cache a preflight answer (seconds). */
const PREFLIGHT_MAX_AGE_S = 600;

/** What {@link handleCors} did with a request. */
export type CorsOutcome =
  /** Not a cross-origin browser request, or an allowed one (headers set): serve it. */
  | 'serve'
  /** A preflight, answered here (204 for an allowed origin). */
  | 'preflight'
  /** An origin the allow-list refuses: answered 403 here, with no CORS headers. */
  | 'refused';

/**
 * CORS for `/trpc` from the Origin allow-list (`TRACEWIRE_ALLOWED_ORIGINS`, unset = any
 * origin). An allowed origin gets its preflight answered (GET/POST with `Authorization` and
 * `Content-Type`) and `Access-Control-Allow-Origin` on every answer; credentials are never
 * allowed: tokens travel in `Authorization` or `connectionParams`, never in cookies, so a page
 * from another site cannot ride on a user's session. A refused origin gets 403 and no CORS
 * header (the browser then blocks the call) before anything runs.
 */
export function handleCors(
  req: IncomingMessage,
  res: ServerResponse,
  allowed: readonly string[] | null,
): CorsOutcome {
  const origin = req.headers.origin;
  const preflight =
    req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
  if (origin === undefined) {
    if (!preflight) return 'serve';
    res.writeHead(204, { 'content-length': '0' }).end();
    return 'preflight';
  }
  if (!isOriginAllowed(origin, allowed, req.headers.host)) {
    res.writeHead(403, { 'content-type': 'application/json', vary: 'Origin' });
    res.end(JSON.stringify({ error: { message: 'origin not allowed', appCode: 'FORBIDDEN' } }));
    return 'refused';
  }
  res.setHeader('access-control-allow-origin', allowed === null ? '*' : origin);
  res.setHeader('vary', 'Origin');
  if (!preflight) return 'serve';
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': ALLOWED_HEADERS,
    'access-control-max-age': String(PREFLIGHT_MAX_AGE_S),
    'content-length': '0',
  });
  res.end();
  return 'preflight';
}
