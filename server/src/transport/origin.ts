/**
 * Checks the `Origin` of a WebSocket upgrade against the allow-list (`null` = allow all).
 * Browsers always send `Origin` on a WebSocket; a request without one comes from a
 * non-browser client, which could send any Origin anyway, so it is allowed (its token is
 * what authenticates it). The check stops other sites' pages from opening sockets.
 */
export function isOriginAllowed(
  origin: string | undefined,
  allowed: readonly string[] | null,
): boolean {
  if (allowed === null || origin === undefined) return true;
  const normalised = origin.trim().toLowerCase().replace(/\/+$/, '');
  return allowed.some((a) => a === '*' || a.toLowerCase().replace(/\/+$/, '') === normalised);
}
