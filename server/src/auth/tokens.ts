import { AppError, UserIdSchema, type UserId } from '@tracewire/shared';
import {
  SignJWT,
  createRemoteJWKSet,
  errors as joseErrors,
  importSPKI,
  jwtVerify,
  type JWTHeaderParameters,
  type FlattenedJWSInput,
  type CryptoKey,
  type KeyObject,
} from 'jose';

/** Who is calling, as proven by a verified token. */
export interface Principal {
  userId: UserId;
  /** 'user' for end users; 'service' for internal services (token claim `svc`). */
  kind: 'user' | 'service';
  /** Service name for service principals. */
  service?: string;
  /**
   * When connections authenticated by this token must close (ms since epoch): the token's
   * `exp`, or for a token without one (accepted only with `requireExp: false`) the end of
   * `noExpLifetimeMs` from its verification. Null only for in-process principals.
   */
  expiresAt: number | null;
}

/** Verifies bearer tokens. The only source of identity. */
export interface Authenticator {
  /**
   * Verifies a JWT; throws AppError UNAUTHORIZED with a reason on any failure (see
   * {@link isTokenExpiredError}), or UNAVAILABLE when the remote key set cannot be fetched.
   */
  verify(token: string): Promise<Principal>;
}

/** Verification settings: an HS256 secret and/or RS256 keys (JWKS URL or PEM public key). */
export interface AuthOptions {
  secret: string;
  /** Accept HS256 tokens signed with `secret` (default true). */
  hs256?: boolean | undefined;
  /** Remote JWK Set for RS256 (fetched on demand, cached and rotated by jose). */
  jwksUrl?: string | undefined;
  /** SPKI PEM public key for RS256. */
  publicKey?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Request timeout for the JWKS fetch (ms). Default 5000. */
  jwksTimeoutMs?: number | undefined;
  /** Refuse tokens without an `exp` claim. Default true. */
  requireExp?: boolean | undefined;
  /**
   * For a token without `exp` (when allowed): how long connections it authenticates may
   * stay open, from its verification. Default 3,600,000 (1 h).
   */
  noExpLifetimeMs?: number | undefined;
}

const encoder = new TextEncoder();

/** Longest token accepted before any parsing (bounds work on hostile input). */
export const MAX_TOKEN_CHARS = 8192;

type KeyResolver = (
  header: JWTHeaderParameters,
  token: FlattenedJWSInput,
) => Promise<CryptoKey | KeyObject | Uint8Array>;

/** True when a verification failure is an expired (otherwise valid) token. */
export function isTokenExpiredError(error: unknown): boolean {
  return (
    AppError.is(error) &&
    error.code === 'UNAUTHORIZED' &&
    error.cause instanceof joseErrors.JWTExpired
  );
}

/** Builds the key lookup for the algorithms the options enable. */
function createKeyResolver(opts: AuthOptions): { algorithms: string[]; resolve: KeyResolver } {
  // Imported once: jose would import raw secret bytes again on every verification.
  const hmac =
    opts.hs256 !== false && opts.secret
      ? crypto.subtle.importKey(
          'raw',
          encoder.encode(opts.secret),
          { name: 'HMAC', hash: 'SHA-256' },
          false,
          ['verify'],
        )
      : null;
  const jwks = opts.jwksUrl
    ? createRemoteJWKSet(new URL(opts.jwksUrl), { timeoutDuration: opts.jwksTimeoutMs ?? 5000 })
    : null;
  let pem: Promise<CryptoKey> | null = opts.publicKey ? importSPKI(opts.publicKey, 'RS256') : null;
  // Surface a bad PEM at verification time as a server-side failure, not an unhandled rejection.
  pem?.catch(() => undefined);
  const algorithms = [...(hmac ? ['HS256'] : []), ...(jwks || pem ? ['RS256'] : [])];
  const resolve: KeyResolver = async (header, token) => {
    if (header.alg === 'HS256' && hmac) return await hmac;
    if (header.alg === 'RS256') {
      if (jwks) return jwks(header, token);
      if (pem) {
        try {
          return await pem;
        } catch (err) {
          pem = null;
          throw new AppError('INTERNAL', 'TRACEWIRE_AUTH_PUBLIC_KEY is not a valid SPKI PEM key', {
            cause: err,
          });
        }
      }
    }
    throw new joseErrors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
  };
  return { algorithms, resolve };
}

/** Maps a jose (or our own) failure to the AppError clients see. */
function toAuthError(err: unknown): AppError {
  if (AppError.is(err)) return err;
  if (err instanceof joseErrors.JWTExpired)
    return new AppError('UNAUTHORIZED', 'token expired', { cause: err });
  if (err instanceof joseErrors.JWTClaimValidationFailed && err.reason === 'missing')
    return new AppError('UNAUTHORIZED', `token has no ${err.claim} claim`, { cause: err });
  if (err instanceof joseErrors.JWTClaimValidationFailed)
    return new AppError('UNAUTHORIZED', `token claim invalid: ${err.claim}`, { cause: err });
  const keySetUnreachable =
    err instanceof joseErrors.JWKSTimeout ||
    err instanceof joseErrors.JWKSInvalid ||
    (err instanceof joseErrors.JOSEError && /JSON Web Key Set HTTP response/.test(err.message));
  if (keySetUnreachable)
    return new AppError('UNAVAILABLE', 'could not fetch the signing keys', { cause: err });
  if (err instanceof joseErrors.JOSEError)
    return new AppError('UNAUTHORIZED', 'invalid token', { cause: err });
  // A fetch that failed (network, non-2xx) is the key server's fault, not the token's.
  if (err instanceof Error && /fetch|ECONNREFUSED|response/i.test(`${err.name} ${err.message}`))
    return new AppError('UNAVAILABLE', 'could not fetch the signing keys', { cause: err });
  return new AppError('UNAUTHORIZED', 'invalid token', { cause: err });
}

/**
 * Creates the authenticator: HS256 with the shared secret and/or RS256 with a JWKS URL or a
 * PEM public key, picked by the token's `alg` (never `none`; an algorithm whose key is not
 * configured is refused). `sub` = user id; `exp` required (unless `requireExp: false`) and
 * honoured; `iss`/`aud` checked when set.
 */
export function createAuthenticator(opts: AuthOptions): Authenticator {
  const { algorithms, resolve } = createKeyResolver(opts);
  const verified = createVerifiedCache();
  const requiredClaims = opts.requireExp === false ? [] : ['exp'];
  const noExpLifetimeMs = opts.noExpLifetimeMs ?? 3_600_000;
  return {
    async verify(token) {
      if (!token || token.length > MAX_TOKEN_CHARS)
        throw new AppError('UNAUTHORIZED', 'missing or oversized token');
      const known = verified.get(token);
      if (known) return known;
      try {
        const { payload } = await jwtVerify(token, resolve, {
          algorithms,
          requiredClaims,
          ...(opts.issuer ? { issuer: opts.issuer } : {}),
          ...(opts.audience ? { audience: opts.audience } : {}),
        });
        const sub = UserIdSchema.safeParse(payload.sub);
        if (!sub.success) throw new AppError('UNAUTHORIZED', 'token has no valid sub claim');
        const svc = typeof payload['svc'] === 'string' ? payload['svc'] : undefined;
        const principal: Principal = Object.freeze({
          userId: sub.data,
          kind: svc ? 'service' : 'user',
          ...(svc ? { service: svc } : {}),
          expiresAt:
            typeof payload.exp === 'number' ? payload.exp * 1000 : Date.now() + noExpLifetimeMs,
        });
        verified.set(token, principal);
        return principal;
      } catch (err) {
        throw toAuthError(err);
      }
    },
  };
}

/** Verified tokens remembered, and for how long (never past the token's own `exp`). */
const VERIFIED_CACHE_SIZE = 1024;
const VERIFIED_CACHE_TTL_MS = 60_000;

/**
 * Remembers recently verified tokens, so a client that reconnects or calls over HTTP again
 * with the same token skips the signature check. Bounded in size and age; an entry is
 * never served past the token's expiry. Only successful verifications are kept. The age
 * bound is how long a token signed by a key removed from the JWKS stays accepted.
 */
function createVerifiedCache() {
  const entries = new Map<string, { principal: Principal; until: number }>();
  return {
    get(token: string): Principal | undefined {
      const hit = entries.get(token);
      if (!hit) return undefined;
      const now = Date.now();
      const { expiresAt } = hit.principal;
      if (hit.until > now && (expiresAt === null || expiresAt > now)) return hit.principal;
      entries.delete(token);
      return undefined;
    },
    set(token: string, principal: Principal): void {
      if (entries.size >= VERIFIED_CACHE_SIZE) entries.delete(entries.keys().next().value!);
      entries.set(token, { principal, until: Date.now() + VERIFIED_CACHE_TTL_MS });
    },
  };
}

/** What to put in a token. */
export interface SignTokenOptions extends AuthOptions {
  userId: string;
  /** Lifetime, e.g. '1h', '30d', or seconds. Default '24h'. */
  expiresIn?: string | number;
  /** Marks the token as an internal service's. */
  service?: string;
}

/** Signs an HS256 token (dev tokens, tests, service tokens). */
export async function signToken(opts: SignTokenOptions): Promise<string> {
  if (opts.hs256 === false || !opts.secret) {
    throw new AppError(
      'BAD_REQUEST',
      'no HS256 secret configured (TRACEWIRE_AUTH_SECRET): cannot sign tokens',
    );
  }
  const jwt = new SignJWT(opts.service ? { svc: opts.service } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(opts.userId)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '24h');
  if (opts.issuer) jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt.setAudience(opts.audience);
  return jwt.sign(encoder.encode(opts.secret));
}
