import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { signToken } from './tokens.js';

/**
 * Says at start which tokens the server accepts. With the public dev secret it says so as
 * loudly as it can (a `warn` line and a banner on stdout: anyone who has read the source can
 * sign a token for any user) and prints a demo token; with keys only it prints no token.
 */
export async function announceAuth(config: Config, logger: Logger): Promise<void> {
  const { auth } = config;
  const algorithms = [
    ...(auth.hs256 ? ['HS256'] : []),
    ...(auth.jwksUrl || auth.publicKey ? ['RS256'] : []),
  ];
  const keys = {
    algorithms,
    jwks_url: auth.jwksUrl ?? null,
    public_key: Boolean(auth.publicKey),
    hs256_secret: auth.devSecret ? 'public dev secret' : auth.hs256 ? 'configured' : 'none',
    tokens_without_exp: auth.requireExp ? 'refused' : `closed after ${auth.noExpLifetimeMs} ms`,
  };
  if (!auth.devSecret) {
    logger.info(keys, 'authentication');
    return;
  }
  logger.warn(
    keys,
    'INSECURE: tokens are signed and verified with the PUBLIC DEV SECRET from the source code; ' +
      'anyone can sign a token for any user. Set TRACEWIRE_AUTH_SECRET, TRACEWIRE_AUTH_PUBLIC_KEY ' +
      'or TRACEWIRE_AUTH_JWKS_URL before this server is reachable by anyone else.',
  );
  const token = await signToken({ ...auth, userId: 'demo', expiresIn: '30d' });
  process.stdout.write(
    `\n*** WARNING: no TRACEWIRE_AUTH_SECRET, TRACEWIRE_AUTH_PUBLIC_KEY or TRACEWIRE_AUTH_JWKS_URL set:\n` +
      `*** tokens use the PUBLIC built-in dev secret, so ANYONE can sign a token for ANY user.\n` +
      `*** Development only (production refuses to start like this).\n` +
      `Demo token (user "demo", 30 days):\n${token}\n`,
  );
}
