import { CLOSE_CODES } from '@tracewire/shared';
import { describe, expect, test } from 'vitest';
import { decideOnClose, isBackOffCloseCode, MAX_AUTH_REFUSALS } from './closePolicy.js';

const facts = (code: number, over: { refreshable?: boolean; authRefusals?: number } = {}) => ({
  code,
  reason: 'why',
  refreshable: over.refreshable ?? false,
  authRefusals: over.authRefusals ?? 1,
});

describe('decideOnClose', () => {
  test('reconnects after transient closes: restart, JWKS down, rate limit, slow consumer, auth timeout', () => {
    for (const code of [1001, 1006, 1013, 4004, 4008, 4009, 4010, 4029]) {
      expect(decideOnClose(facts(code)), String(code)).toEqual({ action: 'reconnect' });
    }
  });

  test('never reconnects a static token the server refused or saw expire', () => {
    const refused = decideOnClose(facts(CLOSE_CODES.UNAUTHORIZED));
    expect(refused).toMatchObject({ action: 'refuse', sticky: true });
    expect(refused.action === 'refuse' && refused.error).toMatchObject({
      appCode: 'UNAUTHORIZED',
      closeCode: 4001,
    });
    const expired = decideOnClose(facts(CLOSE_CODES.TOKEN_EXPIRED));
    expect(expired).toMatchObject({ action: 'refuse', sticky: true });
    expect(expired.action === 'refuse' && expired.error.message).toMatch(/token expired.*getToken/);
  });

  test('with getToken, retries an auth close once, then refuses without making it sticky', () => {
    for (const code of [CLOSE_CODES.UNAUTHORIZED, CLOSE_CODES.TOKEN_EXPIRED]) {
      expect(decideOnClose(facts(code, { refreshable: true }))).toEqual({ action: 'reconnect' });
      expect(
        decideOnClose(facts(code, { refreshable: true, authRefusals: MAX_AUTH_REFUSALS })),
      ).toMatchObject({ action: 'refuse', sticky: false, error: { appCode: 'UNAUTHORIZED' } });
    }
  });

  test('refuses a forbidden origin as UNAUTHORIZED and a protocol error as BAD_REQUEST', () => {
    expect(decideOnClose(facts(CLOSE_CODES.FORBIDDEN_ORIGIN, { refreshable: true }))).toMatchObject(
      {
        action: 'refuse',
        sticky: true,
        error: { appCode: 'UNAUTHORIZED', closeCode: 4003 },
      },
    );
    expect(decideOnClose(facts(CLOSE_CODES.PROTOCOL_ERROR, { refreshable: true }))).toMatchObject({
      action: 'refuse',
      sticky: false,
      error: { appCode: 'BAD_REQUEST', closeCode: 4011 },
    });
  });

  test('asks for a backoff after JWKS-down, rate-limit and too-many-connections closes only', () => {
    expect([1013, 4009, 4029].every(isBackOffCloseCode)).toBe(true);
    expect([1001, 4008, 4010].some(isBackOffCloseCode)).toBe(false);
  });
});
