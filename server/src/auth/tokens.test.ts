import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { createAuthenticator, isTokenExpiredError, signToken } from './tokens.js';

const secret = 'unit-test-secret-0123456789-0123456789';

async function refusal(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    return err as Error & { code: string };
  }
  throw new Error('expected a refusal');
}

describe('authenticator', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('HS256: accepts its own tokens, refuses expired (recognisably), wrong audience and oversized ones', async () => {
    const auth = createAuthenticator({ secret, audience: 'api' });
    const ok = await signToken({ secret, audience: 'api', userId: 'alice' });
    expect(await auth.verify(ok)).toMatchObject({ userId: 'alice', kind: 'user' });
    const expired = await refusal(
      auth.verify(await signToken({ secret, audience: 'api', userId: 'a', expiresIn: -10 })),
    );
    expect(expired.code).toBe('UNAUTHORIZED');
    expect(isTokenExpiredError(expired)).toBe(true);
    const aud = await refusal(
      auth.verify(await signToken({ secret, audience: 'other', userId: 'a' })),
    );
    expect([aud.code, aud.message, isTokenExpiredError(aud)]).toEqual([
      'UNAUTHORIZED',
      'token claim invalid: aud',
      false,
    ]);
    expect((await refusal(auth.verify('x'.repeat(9000)))).message).toBe(
      'missing or oversized token',
    );
  });

  test('a verified token is remembered, but never past its expiry', async () => {
    const auth = createAuthenticator({ secret });
    const token = await signToken({ secret, userId: 'carol', expiresIn: '120s' });
    const first = await auth.verify(token);
    // Remembered: the same principal comes back without a second signature check.
    expect(await auth.verify(token)).toBe(first);
    // A tampered copy is a different token: checked, and refused.
    const forged = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await refusal(auth.verify(forged))).code).toBe('UNAUTHORIZED');
    // Past `exp` the cached entry is dropped and the token is refused as expired.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 121_000 });
    const late = await refusal(auth.verify(token));
    expect([late.code, isTokenExpiredError(late)]).toEqual(['UNAUTHORIZED', true]);
  });

  test('RS256 with a PEM key; HS256 disabled when asked; unsupported algorithms refused', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const auth = createAuthenticator({
      secret: '',
      hs256: false,
      publicKey: await exportSPKI(publicKey),
    });
    const rs = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject('bob')
      .setExpirationTime('1h')
      .sign(privateKey);
    expect((await auth.verify(rs)).userId).toBe('bob');
    const hs = await signToken({ secret, userId: 'bob' });
    expect((await refusal(auth.verify(hs))).code).toBe('UNAUTHORIZED');
    const es = await generateKeyPair('ES256');
    const esToken = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('bob')
      .sign(es.privateKey);
    expect((await refusal(auth.verify(esToken))).code).toBe('UNAUTHORIZED');
    await expect(signToken({ secret: '', hs256: false, userId: 'x' })).rejects.toThrow(
      'no HS256 secret',
    );
  });
});

describe('tokens without exp', () => {
  const noExp = (sub: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .sign(new TextEncoder().encode(secret));

  test('are refused by default, naming the missing claim', async () => {
    const auth = createAuthenticator({ secret });
    const err = await refusal(auth.verify(await noExp('dana')));
    expect([err.code, err.message, isTokenExpiredError(err)]).toEqual([
      'UNAUTHORIZED',
      'token has no exp claim',
      false,
    ]);
  });

  test('when allowed, authenticate connections for at most the configured lifetime', async () => {
    const auth = createAuthenticator({ secret, requireExp: false, noExpLifetimeMs: 60_000 });
    const before = Date.now();
    const principal = await auth.verify(await noExp('erin'));
    expect(principal.userId).toBe('erin');
    expect(principal.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(principal.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
    // A token with exp keeps its own.
    const withExp = await auth.verify(await signToken({ secret, userId: 'erin', expiresIn: '2h' }));
    expect(withExp.expiresAt).toBeGreaterThan(Date.now() + 3_600_000);
  });
});

describe('auth configuration', () => {
  const pem = '-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----';

  test('with a public key or a JWKS URL and no secret, HS256 is off in every mode: the dev secret is never used', () => {
    for (const NODE_ENV of [undefined, 'development', 'test', 'production'] as const) {
      for (const key of [
        { TRACEWIRE_AUTH_PUBLIC_KEY: pem },
        { TRACEWIRE_AUTH_JWKS_URL: 'https://idp.example/jwks.json' },
      ]) {
        const { auth } = loadConfig({ ...(NODE_ENV ? { NODE_ENV } : {}), ...key });
        expect(
          [auth.hs256, auth.devSecret, auth.secret],
          `${NODE_ENV} ${Object.keys(key)[0]}`,
        ).toEqual([false, false, '']);
      }
    }
  });

  test('the dev secret only when no key of any kind is configured, outside production; a configured secret works beside keys', () => {
    expect(loadConfig({}).auth).toMatchObject({ hs256: true, devSecret: true });
    expect(loadConfig({ NODE_ENV: 'test' }).auth).toMatchObject({ hs256: true, devSecret: true });
    expect(
      loadConfig({ TRACEWIRE_AUTH_SECRET: secret, TRACEWIRE_AUTH_PUBLIC_KEY: pem }).auth,
    ).toMatchObject({ hs256: true, devSecret: false, secret });
  });

  test('tokens without exp are refused unless TRACEWIRE_AUTH_ALLOW_NO_EXP, with a lifetime', () => {
    expect(loadConfig({}).auth).toMatchObject({ requireExp: true, noExpLifetimeMs: 3_600_000 });
    expect(
      loadConfig({
        TRACEWIRE_AUTH_ALLOW_NO_EXP: 'true',
        TRACEWIRE_MAX_CONNECTION_LIFETIME_MS: '5000',
      }).auth,
    ).toMatchObject({ requireExp: false, noExpLifetimeMs: 5000 });
    expect(() => loadConfig({ TRACEWIRE_MAX_CONNECTION_LIFETIME_MS: '10' })).toThrow(ConfigError);
  });

  test('production needs a secret or asymmetric keys; with only keys, HS256 is off', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    const c = loadConfig({
      NODE_ENV: 'production',
      TRACEWIRE_AUTH_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----',
    });
    expect(c.auth.hs256).toBe(false);
    expect(c.auth.publicKey).toContain('\nabc\n');
    expect(loadConfig({}).auth.hs256).toBe(true);
    expect(() => loadConfig({ TRACEWIRE_AUTH_JWKS_URL: 'ftp://x' })).toThrow(ConfigError);
    expect(
      loadConfig({ TRACEWIRE_ALLOWED_ORIGINS: ' https://a.example ,https://b.example,' }).ws
        .allowedOrigins,
    ).toEqual(['https://a.example', 'https://b.example']);
    expect(loadConfig({}).ws.allowedOrigins).toBeNull();
  });
});
