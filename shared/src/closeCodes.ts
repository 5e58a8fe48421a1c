/**
 * WebSocket close codes the server uses (private range 4000–4999), plus the standard
 * ones it relies on. `reconnect` says whether a client should reconnect on its own.
 */
export const CLOSE_CODES = {
  /** Server is stopping or restarting: reconnect (with backoff) and resume. */
  GOING_AWAY: 1001,
  /** A frame exceeded `maxPayload` (set by `ws`). */
  MESSAGE_TOO_BIG: 1009,
  /** Token missing, malformed, forged or for another audience: do not retry with the same token. */
  UNAUTHORIZED: 4001,
  /** The connection's token expired: reconnect with a fresh token. */
  TOKEN_EXPIRED: 4002,
  /** Origin not in the allow-list. */
  FORBIDDEN_ORIGIN: 4003,
  /** No `connectionParams` frame within the auth timeout. */
  AUTH_TIMEOUT: 4004,
  /** The client read too slowly and its send queue passed the high-water mark: reconnect and resume. */
  SLOW_CONSUMER: 4008,
  /** Too many connections for this user or for the server. */
  TOO_MANY_CONNECTIONS: 4009,
  /** Server going away for a restart (graceful shutdown): reconnect and resume. */
  SHUTDOWN: 4010,
  /** Malformed frames or protocol abuse. */
  PROTOCOL_ERROR: 4011,
  /** Connection-level rate limit exceeded: back off, then reconnect. */
  RATE_LIMITED: 4029,
} as const;
export type CloseCodeName = keyof typeof CLOSE_CODES;
export type CloseCode = (typeof CLOSE_CODES)[CloseCodeName];

/** Close codes after which a client should reconnect (and resume) by itself. */
const RECONNECTABLE = new Set<number>([
  1001, 1006, 1011, 1012, 1013, 4002, 4004, 4008, 4009, 4010, 4029,
]);

/** True when a client should reconnect after this close code. */
export const isReconnectableCloseCode = (code: number | undefined): boolean =>
  code === undefined || code < 4000 ? code !== 1008 && code !== 1003 : RECONNECTABLE.has(code);

/** Name of a known close code, for logs and errors. */
export function closeCodeName(code: number): CloseCodeName | undefined {
  for (const [name, value] of Object.entries(CLOSE_CODES))
    if (value === code) return name as CloseCodeName;
  return undefined;
}
