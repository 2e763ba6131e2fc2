import { createRemoteJWKSet, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Identity } from '@shop/service-kit';
import type { GatewayConfig } from '../config.js';

/** Why a presented token was refused; `null` from `authenticate` means no token at all. */
export class InvalidTokenError extends Error {
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidTokenError';
  }
}

/** A verified token: who it names, and until when everything it opened (sockets, streams) may stay open. */
export interface Authenticated {
  readonly identity: Identity;
  /** The token's `exp`, or the end of its maximum age when that comes first. */
  readonly expiresAtMs: number;
}

export interface Authenticator {
  /** `null` for no token (anonymous); throws `InvalidTokenError` for a bad, expired or unsigned one. */
  authenticate(authorization: unknown): Promise<Authenticated | null>;
}

/** Verified tokens remembered, so a client sending the same token on every request is verified once. */
const VERIFIED_CACHE_SIZE = 10_000;

/**
 * HS256 with the shared secret by default, or the key set at `jwksUrl` (RS256/ES256/EdDSA) when set.
 * `alg: none` is never accepted: jose refuses unsecured tokens unless asked, and `algorithms` pins the list.
 * Every token needs `exp` and `iat` (no older than `maxTokenAgeMs`), and the configured `iss` and `aud`.
 */
export function createAuthenticator(auth: GatewayConfig['auth']): Authenticator {
  // Keyed by the whole token, signature included: a hit is exactly a token already verified. Expiry is
  // re-checked on every hit; failures are never cached.
  const verified = new Map<string, Authenticated>();
  const secret = new TextEncoder().encode(auth.jwtSecret);
  const jwks: JWTVerifyGetKey | undefined = auth.jwksUrl ? createRemoteJWKSet(new URL(auth.jwksUrl)) : undefined;
  const maxTokenAge = `${Math.floor(auth.maxTokenAgeMs / 1000)}s`;
  const options = {
    algorithms: jwks ? ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256', 'EdDSA'] : ['HS256'],
    issuer: auth.issuer,
    audience: auth.audience,
    requiredClaims: ['exp', 'iat', 'sub'],
    maxTokenAge,
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
        if (Date.now() < cached.expiresAtMs) return cached;
        verified.delete(token);
      }
      let payload: JWTPayload;
      try {
        ({ payload } = jwks ? await jwtVerify(token, jwks, options) : await jwtVerify(token, secret, options));
      } catch (err) {
        throw new InvalidTokenError(refusalReason(err), { cause: err });
      }
      if (typeof payload.sub !== 'string' || payload.sub === '') throw new InvalidTokenError('the token has no subject');
      const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
      // jose has checked that both are numbers (requiredClaims) and that the token is neither expired nor too old.
      const expiresAtMs = Math.min(payload.exp! * 1000, payload.iat! * 1000 + auth.maxTokenAgeMs);
      const authenticated: Authenticated = { identity: { sub: payload.sub, roles }, expiresAtMs };
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
      verified.set(token, authenticated);
      return authenticated;
    },
  };
}

/** Says why jose refused a token, in words safe to send back (no claim values). */
function refusalReason(err: unknown): string {
  // JWTExpired is also what jose throws for an `iat` older than maxTokenAge.
  if (err instanceof joseErrors.JWTExpired) return err.claim === 'iat' ? 'the token is too old' : 'the token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return `the token has no "${err.claim}" claim`;
    if (err.claim === 'iss' || err.claim === 'aud') return `the token's "${err.claim}" is not accepted here`;
  }
  return 'the token is invalid';
}

/** What a development token carries: the HS256 secret and the issuer and audience the gateway requires. */
export type DevTokenSigning = Pick<GatewayConfig['auth'], 'jwtSecret' | 'issuer' | 'audience'>;

/** A development token (HS256, 12 h), as served by `/auth/dev-token` and printed by `npm run token`. */
export async function signDevToken(auth: DevTokenSigning, sub: string, roles: readonly string[] = [], expiresIn: string | number = '12h'): Promise<string> {
  return new SignJWT({ roles: [...roles] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(auth.issuer)
    .setAudience(auth.audience)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(auth.jwtSecret));
}
