import { createRemoteJWKSet, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Identity } from '@shop/service-kit';
import type { GatewayConfig } from './config.js';

/** Why a presented token was refused; `null` from `authenticate` means no token at all. */
export class InvalidTokenError extends Error {
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidTokenError';
  }
}

export interface Authenticator {
  /** `null` for no token (anonymous); throws `InvalidTokenError` for a bad, expired or unsigned one. */
  authenticate(authorization: unknown): Promise<Identity | null>;
}

/**
 * HS256 with the shared secret by default, or the key set at `jwksUrl` (RS256/ES256/EdDSA) when set.
 * `alg: none` is never accepted: jose refuses unsecured tokens unless asked, and `algorithms` pins the list.
 */
/** Verified tokens remembered, so a client sending the same token on every request is verified once. */
const VERIFIED_CACHE_SIZE = 10_000;

export function createAuthenticator(auth: GatewayConfig['auth']): Authenticator {
  // Keyed by the whole token, signature included: a hit is exactly a token already verified. Expiry is
  // re-checked on every hit; failures are never cached.
  const verified = new Map<string, { identity: Identity; expMs: number }>();
  const secret = new TextEncoder().encode(auth.jwtSecret);
  const jwks: JWTVerifyGetKey | undefined = auth.jwksUrl ? createRemoteJWKSet(new URL(auth.jwksUrl)) : undefined;
  const options = {
    algorithms: jwks ? ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256', 'EdDSA'] : ['HS256'],
    ...(auth.issuer ? { issuer: auth.issuer } : {}),
    ...(auth.audience ? { audience: auth.audience } : {}),
  };
  return {
    async authenticate(authorization) {
      if (authorization === undefined || authorization === null || authorization === '') return null;
      if (typeof authorization !== 'string') throw new InvalidTokenError('Authorization must be a string');
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m) throw new InvalidTokenError('Authorization must be "Bearer <token>"');
      const token = m[1]!;
      const cached = verified.get(token);
      if (cached) {
        if (Date.now() < cached.expMs) return cached.identity;
        verified.delete(token);
      }
      let payload: JWTPayload;
      try {
        ({ payload } = jwks ? await jwtVerify(token, jwks, options) : await jwtVerify(token, secret, options));
      } catch (err) {
        const reason = err instanceof joseErrors.JWTExpired ? 'the token has expired' : 'the token is invalid';
        throw new InvalidTokenError(reason, { cause: err });
      }
      if (typeof payload.sub !== 'string' || payload.sub === '') throw new InvalidTokenError('the token has no subject');
      const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
      const identity: Identity = { sub: payload.sub, roles };
      // Tokens without `exp` are verified every time (nothing says how long a cached answer stays true).
      if (typeof payload.exp === 'number') {
        if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
        verified.set(token, { identity, expMs: payload.exp * 1000 });
      }
      return identity;
    },
  };
}

/** A development token (HS256, 12 h), as served by `/auth/dev-token` and printed by `npm run token`. */
export async function signDevToken(secret: string, sub: string, roles: readonly string[] = [], expiresIn = '12h'): Promise<string> {
  return new SignJWT({ roles: [...roles] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}
