/**
 * Checks the `Origin` of a browser request (a WebSocket upgrade or a CORS request to `/trpc`)
 * against the allow-list (`null` = allow all). Browsers always send `Origin` on a WebSocket and
 * on cross-origin fetches; a request without one comes from a non-browser client, which could
 * send any Origin anyway, so it is allowed (its token is what authenticates it). A page served
 * by this server itself (its origin's host is the request's `Host`) is always allowed: browsers
 * send `Origin` on its same-origin POSTs and WebSockets too. The check stops other sites' pages.
 */
export function isOriginAllowed(
  origin: string | undefined,
  allowed: readonly string[] | null,
  host?: string,
): boolean {
  if (allowed === null || origin === undefined) return true;
  const normalised = origin.trim().toLowerCase().replace(/\/+$/, '');
  if (host !== undefined && isSameHost(normalised, host)) return true;
  return allowed.some((a) => a === '*' || a.toLowerCase().replace(/\/+$/, '') === normalised);
}

/** True when `origin` (an `http(s)://host[:port]` string) names `host` (a `Host` header). */
function isSameHost(origin: string, host: string): boolean {
  const m = /^https?:\/\/([^/]+)$/.exec(origin);
  return m !== null && m[1] === host.trim().toLowerCase();
}
