import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { DEV_SECRETS } from '@shop/service-kit';
import { createAuthenticator, InvalidTokenError, signDevToken } from './auth.js';
import { HS256_AUDIENCE, HS256_ISSUER } from '../config.js';

const HOUR_MS = 3_600_000;
const auth = { jwtSecret: DEV_SECRETS.jwt, issuer: HS256_ISSUER, audience: HS256_AUDIENCE, maxTokenAgeMs: 24 * HOUR_MS };
const authenticator = createAuthenticator(auth);
const now = () => Math.floor(Date.now() / 1000);

/** An HS256 token with exactly the claims given (no defaults added). */
const token = (claims: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(DEV_SECRETS.jwt));
const good = () => ({ sub: 'alice', roles: [], iss: HS256_ISSUER, aud: HS256_AUDIENCE, iat: now(), exp: now() + 600 });

async function refusal(claims: Record<string, unknown>): Promise<string> {
  const err = await authenticator.authenticate(`Bearer ${await token(claims)}`).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, JSON.stringify(claims)).toBeInstanceOf(InvalidTokenError);
  return (err as Error).message;
}

describe('authenticator', () => {
  it('accepts a complete token and tells until when it holds', async () => {
    const claims = good();
    const result = await authenticator.authenticate(`Bearer ${await token(claims)}`);
    expect(result).toEqual({ identity: { sub: 'alice', roles: [] }, expiresAtMs: claims.exp * 1000 });
    const dev = await authenticator.authenticate(`Bearer ${await signDevToken(auth, 'bob', ['admin'])}`);
    expect(dev?.identity).toEqual({ sub: 'bob', roles: ['admin'] });
  });

  it('refuses a token without exp, without iat, or older than the maximum age whatever its exp says', async () => {
    const { exp: _exp, ...noExp } = good();
    expect(await refusal(noExp)).toBe('the token has no "exp" claim');
    const { iat: _iat, ...noIat } = good();
    expect(await refusal(noIat)).toBe('the token has no "iat" claim');
    expect(await refusal({ ...good(), iat: now() - 25 * 3_600, exp: now() + 3_600 })).toBe('the token is too old');
  });

  it('ends what a long-lived token opened at its maximum age, not at a far exp', async () => {
    const iat = now() - 23 * 3_600;
    const result = await authenticator.authenticate(`Bearer ${await token({ ...good(), iat, exp: now() + 100 * 3_600 })}`);
    expect(result?.expiresAtMs).toBe(iat * 1000 + 24 * HOUR_MS);
  });

  it('refuses a foreign issuer or audience, and a token without them', async () => {
    expect(await refusal({ ...good(), iss: 'https://someone-else.example' })).toBe('the token\'s "iss" is not accepted here');
    expect(await refusal({ ...good(), aud: 'another-api' })).toBe('the token\'s "aud" is not accepted here');
    const { iss: _iss, ...noIss } = good();
    expect(await refusal(noIss)).toBe('the token has no "iss" claim');
    const { aud: _aud, ...noAud } = good();
    expect(await refusal(noAud)).toBe('the token has no "aud" claim');
  });

  it('re-checks expiry on a cached token', async () => {
    const claims = { ...good(), exp: now() + 1 };
    const bearer = `Bearer ${await token(claims)}`;
    expect(await authenticator.authenticate(bearer)).not.toBeNull();
    await new Promise((r) => setTimeout(r, 1_100 + (claims.exp * 1000 - Date.now())));
    await expect(authenticator.authenticate(bearer)).rejects.toBeInstanceOf(InvalidTokenError);
  });
});
