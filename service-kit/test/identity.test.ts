import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IDENTITY_CLOCK_SKEW_MS, IDENTITY_MAX_AGE_MS, signIdentity, verifyCaller, verifyIdentity } from '../src/identity.js';

const SECRET = 'test-secret-1';
const OTHER = 'test-secret-2';
const MINUTE = 60_000;
const ORDERS = 'orders';

/** A header with a chosen payload signed with `secret` (what only a holder of the secret can make). */
function tamper(header: string, change: (payload: Record<string, unknown>) => void): string {
  const [payload, mac] = header.split('.');
  const parsed = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
  change(parsed);
  return `${Buffer.from(JSON.stringify(parsed)).toString('base64url')}.${mac}`;
}

describe('signIdentity / verifyIdentity', () => {
  it('round-trips, and the same answer comes again (from the cache) on the same header', () => {
    const t = 1_000_000_000_000;
    const header = signIdentity({ sub: 'alice', roles: ['admin'] }, SECRET, ORDERS, t);
    expect(verifyIdentity(header, SECRET, ORDERS, t)).toEqual({ sub: 'alice', roles: ['admin'] });
    expect(verifyIdentity(header, SECRET, ORDERS, t + 1_000)).toEqual({ sub: 'alice', roles: ['admin'] });
  });

  it('refuses tampered payloads, wrong signatures and other secrets', () => {
    const t = 1_000_000_100_000;
    const header = signIdentity({ sub: 'bob', roles: [] }, SECRET, ORDERS, t);
    expect(verifyIdentity(header, SECRET, ORDERS, t)).not.toBeNull();
    expect(verifyIdentity(tamper(header, (p) => (p.roles = ['admin'])), SECRET, ORDERS, t)).toBeNull();
    expect(verifyIdentity(`${header.slice(0, -2)}AA`, SECRET, ORDERS, t)).toBeNull();
    expect(verifyIdentity(signIdentity({ sub: 'bob', roles: ['admin'] }, OTHER, ORDERS, t), SECRET, ORDERS, t)).toBeNull();
    expect(verifyIdentity('garbage', SECRET, ORDERS, t)).toBeNull();
    expect(verifyIdentity('', SECRET, ORDERS, t)).toBeNull();
    expect(verifyIdentity(null, SECRET, ORDERS, t)).toBeNull();
  });

  it('does not let a cached header pass for another secret', () => {
    const t = 1_000_000_200_000;
    const header = signIdentity({ sub: 'carol', roles: [] }, SECRET, ORDERS, t);
    expect(verifyIdentity(header, SECRET, ORDERS, t)).not.toBeNull();
    expect(verifyIdentity(header, OTHER, ORDERS, t)).toBeNull();
    expect(verifyIdentity(header, SECRET, ORDERS, t)).not.toBeNull();
  });

  it('is valid for seconds, not minutes, and never dated ahead beyond the clock skew', () => {
    expect(IDENTITY_MAX_AGE_MS).toBeLessThanOrEqual(MINUTE / 2);
    expect(IDENTITY_CLOCK_SKEW_MS).toBeLessThanOrEqual(5_000);
    const t = 1_000_000_300_000;
    const header = signIdentity({ sub: 'dave', roles: [] }, SECRET, ORDERS, t);
    expect(verifyIdentity(header, SECRET, ORDERS, t)).not.toBeNull();
    expect(verifyIdentity(header, SECRET, ORDERS, t + IDENTITY_MAX_AGE_MS)).not.toBeNull();
    expect(verifyIdentity(header, SECRET, ORDERS, t + IDENTITY_MAX_AGE_MS + 1)).toBeNull();
    expect(verifyIdentity(header, SECRET, ORDERS, t + 5 * MINUTE)).toBeNull();
    // Checked again from scratch after it was dropped: still refused when expired, accepted within the window.
    expect(verifyIdentity(header, SECRET, ORDERS, t + 10 * MINUTE)).toBeNull();
    expect(verifyIdentity(header, SECRET, ORDERS, t + 1_000)).not.toBeNull();
    // A header from the future (a captured or forged-by-insider value dated ahead) passes only within the skew.
    const ahead = signIdentity({ sub: 'dave', roles: [] }, SECRET, ORDERS, t + MINUTE);
    expect(verifyIdentity(ahead, SECRET, ORDERS, t)).toBeNull();
    expect(verifyIdentity(ahead, SECRET, ORDERS, t + MINUTE - IDENTITY_CLOCK_SKEW_MS - 1)).toBeNull();
    expect(verifyIdentity(ahead, SECRET, ORDERS, t + MINUTE - IDENTITY_CLOCK_SKEW_MS)).not.toBeNull();
  });

  it('names its audience: a header signed for one subgraph is refused by the others', () => {
    const t = 1_000_000_350_000;
    const header = signIdentity({ sub: 'frank', roles: ['admin'] }, SECRET, 'inventory', t);
    expect(verifyIdentity(header, SECRET, 'inventory', t)).toEqual({ sub: 'frank', roles: ['admin'] });
    expect(verifyIdentity(header, SECRET, ORDERS, t)).toBeNull();
    expect(verifyIdentity(header, SECRET, 'notifications', t)).toBeNull();
    expect(verifyIdentity(tamper(header, (p) => (p.aud = ORDERS)), SECRET, ORDERS, t)).toBeNull();
    // Nothing without an audience passes (a value in the old format, signed with the right secret).
    const legacyPayload = Buffer.from(JSON.stringify({ sub: 'frank', roles: [], iat: t })).toString('base64url');
    const legacy = `${legacyPayload}.${createHmac('sha256', SECRET).update(legacyPayload).digest('base64url')}`;
    expect(verifyCaller(legacy, SECRET, ORDERS, t)).toBeNull();
  });

  it('vouches for an anonymous caller, which a missing or forged header does not', () => {
    const t = 1_000_000_370_000;
    const anonymous = signIdentity(null, SECRET, ORDERS, t);
    expect(verifyCaller(anonymous, SECRET, ORDERS, t)).toEqual({ identity: null });
    expect(verifyIdentity(anonymous, SECRET, ORDERS, t)).toBeNull();
    expect(verifyCaller(undefined, SECRET, ORDERS, t)).toBeNull();
    expect(verifyCaller(tamper(anonymous, (p) => (p.sub = 'alice')), SECRET, ORDERS, t)).toBeNull();
  });

  it('hands out the same value to the same identity and audience for up to a second, then a fresh one', () => {
    const t = 1_000_000_400_000;
    const a = signIdentity({ sub: 'erin', roles: ['admin'] }, SECRET, ORDERS, t);
    expect(signIdentity({ sub: 'erin', roles: ['admin'] }, SECRET, ORDERS, t + 999)).toBe(a);
    expect(signIdentity({ sub: 'erin', roles: [] }, SECRET, ORDERS, t + 1)).not.toBe(a);
    expect(signIdentity({ sub: 'erin', roles: ['admin'] }, OTHER, ORDERS, t + 1)).not.toBe(a);
    expect(signIdentity({ sub: 'erin', roles: ['admin'] }, SECRET, 'inventory', t + 1)).not.toBe(a);
    const b = signIdentity({ sub: 'erin', roles: ['admin'] }, SECRET, ORDERS, t + 1_000);
    expect(b).not.toBe(a);
    expect(verifyIdentity(b, SECRET, ORDERS, t + 1_000)).toEqual({ sub: 'erin', roles: ['admin'] });
    // A clock that went back gets a value signed at its own time.
    const c = signIdentity({ sub: 'erin', roles: ['admin'] }, SECRET, ORDERS, t - 10 * MINUTE);
    expect(verifyIdentity(c, SECRET, ORDERS, t - 10 * MINUTE)).not.toBeNull();
    expect(verifyIdentity(c, SECRET, ORDERS, t)).toBeNull();
  });
});
