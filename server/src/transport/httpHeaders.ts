import type { ServerResponse } from 'node:http';

/**
 * Security headers, as one policy for everything the server sends over HTTP. API responses
 * (tRPC JSON, SSE, probes, metrics) are never pages: nothing may sniff them into one, cache
 * them (they are per user) or run anything if a browser is pointed at one.
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
});

/** Options of {@link pageSecurityHeaders}. */
export interface PageSecurityOptions {
  /**
   * Other origins the page's scripts may connect to (an API served elsewhere), e.g.
   * `https://api.example.com` and `wss://api.example.com`. The page's own origin is always allowed.
   */
  connectSources?: readonly string[];
}

/**
 * Headers for a page and its static assets (HTML, scripts, styles): a strict
 * Content-Security-Policy that allows scripts, styles, images and fonts from the page's own
 * origin only, no inline script or style, no plugins, no framing, no foreign form targets;
 * plus no sniffing and no referrer. Cache-Control is the caller's (hashed assets may cache).
 */
export function pageSecurityHeaders(opts: PageSecurityOptions = {}): Record<string, string> {
  const connect = ["'self'", ...(opts.connectSources ?? [])].join(' ');
  return {
    'content-security-policy': [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "font-src 'self'",
      `connect-src ${connect}`,
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  };
}

/** Sets `headers` on a response before it is written (later `writeHead` headers still win). */
export function setSecurityHeaders(
  res: ServerResponse,
  headers: Readonly<Record<string, string>>,
): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
}
