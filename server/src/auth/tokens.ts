import { AppError, UserIdSchema, type UserId } from '@tracewire/shared';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';

/** Who is calling, as proven by a verified token. */
export interface Principal {
  userId: UserId;
  /** 'user' for end users; 'service' for internal services (token claim `svc`). */
  kind: 'user' | 'service';
  /** Service name for service principals. */
  service?: string;
  /** Token expiry (ms since epoch), when the token has one. */
  expiresAt: number | null;
}

/** Verifies bearer tokens. The only source of identity. */
export interface Authenticator {
  /** Verifies a JWT; throws AppError UNAUTHORIZED with a reason on any failure. */
  verify(token: string): Promise<Principal>;
}

/** HS256 verification settings. */
export interface AuthOptions {
  secret: string;
  issuer?: string | undefined;
  audience?: string | undefined;
}

const encoder = new TextEncoder();

/** Creates the HS256 authenticator (`sub` = user id; `exp` honoured; `iss`/`aud` checked when set). */
export function createAuthenticator(opts: AuthOptions): Authenticator {
  const key = encoder.encode(opts.secret);
  return {
    async verify(token) {
      if (!token || token.length > 8192) throw new AppError('UNAUTHORIZED', 'missing or oversized token');
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          ...(opts.issuer ? { issuer: opts.issuer } : {}),
          ...(opts.audience ? { audience: opts.audience } : {}),
        });
        const sub = UserIdSchema.safeParse(payload.sub);
        if (!sub.success) throw new AppError('UNAUTHORIZED', 'token has no valid sub claim');
        const svc = typeof payload['svc'] === 'string' ? payload['svc'] : undefined;
        return {
          userId: sub.data,
          kind: svc ? 'service' : 'user',
          ...(svc ? { service: svc } : {}),
          expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null,
        };
      } catch (err) {
        if (err instanceof AppError) throw err;
        if (err instanceof joseErrors.JWTExpired) throw new AppError('UNAUTHORIZED', 'token expired', { cause: err });
        if (err instanceof joseErrors.JWTClaimValidationFailed)
          throw new AppError('UNAUTHORIZED', `token claim invalid: ${err.claim}`, { cause: err });
        throw new AppError('UNAUTHORIZED', 'invalid token', { cause: err });
      }
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
  const jwt = new SignJWT(opts.service ? { svc: opts.service } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(opts.userId)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '24h');
  if (opts.issuer) jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt.setAudience(opts.audience);
  return jwt.sign(encoder.encode(opts.secret));
}
