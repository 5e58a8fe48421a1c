import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { TEST_AUTH_SECRET } from '../helpers/server.js';

/** Claims for a hand-made test token. */
export interface TokenSpec {
  sub?: string;
  /** Seconds from now (negative = already expired); null: no `exp` claim at all. Default 3600. */
  expiresInSec?: number | null;
  iss?: string;
  aud?: string;
}

/** Signs an HS256 token with any secret (the test server's by default). */
export async function hsToken(spec: TokenSpec = {}, secret = TEST_AUTH_SECRET): Promise<string> {
  return build(spec).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
}

function build(spec: TokenSpec): SignJWT {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({}).setIssuedAt(now - 60);
  if (spec.expiresInSec !== null) jwt.setExpirationTime(now + (spec.expiresInSec ?? 3600));
  if (spec.sub !== '') jwt.setSubject(spec.sub ?? 'alice');
  if (spec.iss) jwt.setIssuer(spec.iss);
  if (spec.aud) jwt.setAudience(spec.aud);
  return jwt;
}

/** An RS256 key pair with its public key as PEM and as a JWK Set. */
export interface RsaKeys {
  privateKey: CryptoKey;
  publicPem: string;
  kid: string;
  sign(spec?: TokenSpec): Promise<string>;
}

/** Generates a fresh RS256 key pair (2048 bits). */
export async function createRsaKeys(kid = 'test-key-1'): Promise<RsaKeys> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicPem = await exportSPKI(publicKey);
  const jwk = await exportJWK(publicKey);
  const keys: RsaKeys & { jwk: typeof jwk } = {
    privateKey,
    publicPem,
    kid,
    jwk: { ...jwk, kid, alg: 'RS256', use: 'sig' },
    sign: (spec = {}) => build(spec).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey),
  };
  return keys;
}

/** A loopback HTTP server serving a JWK Set at `/.well-known/jwks.json`. */
export interface JwksServer extends AsyncDisposable {
  url: string;
  /** Requests served so far. */
  readonly hits: number;
}

/** Serves the public keys of `keys` as a JWK Set on 127.0.0.1 (port 0). */
export async function startJwksServer(keys: readonly RsaKeys[]): Promise<JwksServer> {
  const body = JSON.stringify({ keys: keys.map((k) => (k as RsaKeys & { jwk: object }).jwk) });
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get hits() {
      return hits;
    },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
