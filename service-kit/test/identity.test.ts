import { describe, expect, it } from 'vitest';
import { signIdentity, verifyIdentity } from '../src/identity.js';

const SECRET = 'test-secret-1';
const OTHER = 'test-secret-2';
const MINUTE = 60_000;

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
    const header = signIdentity({ sub: 'alice', roles: ['admin'] }, SECRET, t);
    expect(verifyIdentity(header, SECRET, t)).toEqual({ sub: 'alice', roles: ['admin'] });
    expect(verifyIdentity(header, SECRET, t + 1_000)).toEqual({ sub: 'alice', roles: ['admin'] });
  });

  it('refuses a tampered or forged header, also after the genuine one was accepted', () => {
    const t = 1_000_000_100_000;
    const header = signIdentity({ sub: 'bob', roles: [] }, SECRET, t);
    expect(verifyIdentity(header, SECRET, t)).not.toBeNull();
    expect(verifyIdentity(tamper(header, (p) => (p.roles = ['admin'])), SECRET, t)).toBeNull();
    expect(verifyIdentity(`${header.slice(0, -2)}AA`, SECRET, t)).toBeNull();
    expect(verifyIdentity(signIdentity({ sub: 'bob', roles: ['admin'] }, OTHER, t), SECRET, t)).toBeNull();
    expect(verifyIdentity('garbage', SECRET, t)).toBeNull();
    expect(verifyIdentity('', SECRET, t)).toBeNull();
    expect(verifyIdentity(null, SECRET, t)).toBeNull();
  });

  it('a header accepted with one secret is not accepted with another', () => {
    const t = 1_000_000_200_000;
    const header = signIdentity({ sub: 'carol', roles: [] }, SECRET, t);
    expect(verifyIdentity(header, SECRET, t)).not.toBeNull();
    expect(verifyIdentity(header, OTHER, t)).toBeNull();
    expect(verifyIdentity(header, SECRET, t)).not.toBeNull();
  });

  it('stops accepting a cached header when it expires (5 minutes either way)', () => {
    const t = 1_000_000_300_000;
    const header = signIdentity({ sub: 'dave', roles: [] }, SECRET, t);
    expect(verifyIdentity(header, SECRET, t)).not.toBeNull();
    expect(verifyIdentity(header, SECRET, t + 5 * MINUTE)).not.toBeNull();
    expect(verifyIdentity(header, SECRET, t + 5 * MINUTE + 1)).toBeNull();
    expect(verifyIdentity(header, SECRET, t - 5 * MINUTE - 1)).toBeNull();
    // Checked again from scratch after it was dropped: still refused when expired, accepted within the window.
    expect(verifyIdentity(header, SECRET, t + 10 * MINUTE)).toBeNull();
    expect(verifyIdentity(header, SECRET, t + MINUTE)).not.toBeNull();
  });

  it('hands out the same value to the same identity for up to a second, then a fresh one', () => {
    const t = 1_000_000_400_000;
    const a = signIdentity({ sub: 'erin', roles: ['admin'] }, SECRET, t);
    expect(signIdentity({ sub: 'erin', roles: ['admin'] }, SECRET, t + 999)).toBe(a);
    expect(signIdentity({ sub: 'erin', roles: [] }, SECRET, t + 1)).not.toBe(a);
    expect(signIdentity({ sub: 'erin', roles: ['admin'] }, OTHER, t + 1)).not.toBe(a);
    const b = signIdentity({ sub: 'erin', roles: ['admin'] }, SECRET, t + 1_000);
    expect(b).not.toBe(a);
    expect(verifyIdentity(b, SECRET, t + 1_000)).toEqual({ sub: 'erin', roles: ['admin'] });
    // A clock that went back gets a value signed at its own time.
    const c = signIdentity({ sub: 'erin', roles: ['admin'] }, SECRET, t - 10 * MINUTE);
    expect(verifyIdentity(c, SECRET, t - 10 * MINUTE)).not.toBeNull();
    expect(verifyIdentity(c, SECRET, t)).toBeNull();
  });
});
