import { CLOSE_CODES, closeCodeName, isReconnectableCloseCode } from '@tracewire/shared';
import { ConnectionRefusedError } from './errors.js';

/**
 * Auth closes (4001 / 4002) in a row, on sockets that never got going, after which even a
 * client with `getToken` stops reconnecting: one retry with a fresh token, not a loop.
 */
export const MAX_AUTH_REFUSALS = 2;

/** What the SDK knows when a WebSocket closes. */
export interface CloseFacts {
  code: number;
  reason: string;
  /** The client has `getToken`, so a reconnect sends a fresh token. */
  refreshable: boolean;
  /** Auth closes in a row, this one included (reset by a socket that worked). */
  authRefusals: number;
}

/** Reconnect (tRPC's loop, with the SDK's backoff), or stop and fail what waits with `error`. */
export type CloseDecision =
  | { action: 'reconnect' }
  | {
      action: 'refuse';
      error: ConnectionRefusedError;
      /** Later calls fail at once too: nothing the client can change would help (static token, Origin). */
      sticky: boolean;
    };

const describeClose = (code: number, reason: string) =>
  `${code} ${closeCodeName(code) ?? 'close'}${reason ? `: ${reason}` : ''}`;

const refuse = (
  f: CloseFacts,
  appCode: ConnectionRefusedError['appCode'],
  opts: { message: string; sticky: boolean },
): CloseDecision => ({
  action: 'refuse',
  sticky: opts.sticky,
  error: new ConnectionRefusedError({ appCode, closeCode: f.code, message: opts.message }),
});

/**
 * The SDK's answer to a server close code (README "WebSocket close codes"): reconnect after
 * transient ones; after auth refusals retry once with a token from `getToken`, never with a
 * static token; never reconnect after protocol errors or a refused Origin.
 */
export function decideOnClose(f: CloseFacts): CloseDecision {
  const what = describeClose(f.code, f.reason);
  const retryAuth = f.refreshable && f.authRefusals < MAX_AUTH_REFUSALS;
  switch (f.code) {
    case CLOSE_CODES.TOKEN_EXPIRED:
      if (retryAuth) return { action: 'reconnect' };
      return refuse(f, 'UNAUTHORIZED', {
        sticky: !f.refreshable,
        message: f.refreshable
          ? `token expired (${what}) again right after reconnecting: getToken returned an expired token`
          : `token expired (${what}); a static \`token\` cannot be refreshed: pass \`getToken\` to reconnect with a fresh token`,
      });
    case CLOSE_CODES.UNAUTHORIZED:
      if (retryAuth) return { action: 'reconnect' };
      return refuse(f, 'UNAUTHORIZED', {
        sticky: !f.refreshable,
        message: f.refreshable
          ? `the server refused the token from getToken (${what}) twice in a row; not reconnecting`
          : `the server refused the token (${what}); not reconnecting with the same token (pass \`getToken\` to refresh it)`,
      });
    case CLOSE_CODES.FORBIDDEN_ORIGIN:
      return refuse(f, 'UNAUTHORIZED', {
        sticky: true,
        message: `the server refused this origin (${what}); not reconnecting`,
      });
    case CLOSE_CODES.AUTH_TIMEOUT:
      // The SDK sends connectionParams right after open: a slow link, so just reconnect.
      return { action: 'reconnect' };
    default:
      if (isReconnectableCloseCode(f.code)) return { action: 'reconnect' };
      return refuse(f, 'BAD_REQUEST', {
        sticky: false,
        message: `the server closed the WebSocket (${what}); not reconnecting with the same client`,
      });
  }
}

/** Close codes that ask the client to back off before reconnecting, even after a healthy socket. */
export const isBackOffCloseCode = (code: number): boolean =>
  code === 1013 || code === CLOSE_CODES.TOO_MANY_CONNECTIONS || code === CLOSE_CODES.RATE_LIMITED;
