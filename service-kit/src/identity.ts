import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the caller's identity from the gateway to subgraphs, signed with a shared secret. */
export const IDENTITY_HEADER = 'x-shop-identity';
/** Header carrying the correlation id through gateway, subgraphs and Kafka headers. */
export const CORRELATION_HEADER = 'x-correlation-id';

export interface Identity {
  /** The customer id (the JWT `sub`). */
  readonly sub: string;
  readonly roles: readonly string[];
}

/** How long a signed identity stays valid; bounds the replay window of a captured header. */
const MAX_AGE_MS = 5 * 60_000;
/**
 * A signed value is handed out again for this long to the same identity, so a subgraph sees the
 * same header on consecutive calls and answers them from its cache of verified values instead of
 * computing the HMAC each time. Such a value is at most this much older than a fresh one.
 */
const SIGN_REUSE_MS = 1_000;
/** Entries kept by each of the two caches below (oldest dropped first). */
const CACHE_ENTRIES = 1_000;

function mac(payload: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  cache.delete(key);
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
}

/** Recently signed values by secret and identity. */
const signed = new Map<string, { readonly header: string; readonly iat: number }>();

/**
 * Wire format: `base64url(JSON {sub, roles, iat})` + `.` + `base64url(HMAC-SHA256(secret, first part))`.
 * Subgraphs trust identity only through this, so a direct call without the secret gets no personal data.
 * The same identity signed again within `SIGN_REUSE_MS` gets the same value (same `iat`).
 */
export function signIdentity(identity: Identity, secret: string, nowMs = Date.now()): string {
  const key = JSON.stringify([secret, identity.sub, identity.roles]);
  const recent = signed.get(key);
  if (recent !== undefined && nowMs >= recent.iat && nowMs - recent.iat < SIGN_REUSE_MS) return recent.header;
  const payload = Buffer.from(JSON.stringify({ sub: identity.sub, roles: identity.roles, iat: nowMs })).toString('base64url');
  const header = `${payload}.${mac(payload, secret).toString('base64url')}`;
  remember(signed, key, { header, iat: nowMs });
  return header;
}

interface Verified {
  readonly secret: string;
  readonly identity: Identity;
  readonly iat: number;
}

/**
 * Header values whose signature was checked, with what they carry. A value is only ever added
 * after its HMAC matched, so a forged or tampered header always goes through the full check; the
 * age check is made on every use, so a cached value stops being accepted when it expires.
 */
const verified = new Map<string, Verified>();

function checkSignature(header: string, secret: string): Verified | null {
  const dot = header.indexOf('.');
  if (dot <= 0) return null;
  const payload = header.slice(0, dot);
  const given = Buffer.from(header.slice(dot + 1), 'base64url');
  const expected = mac(payload, secret);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown; roles?: unknown; iat?: unknown };
    if (typeof parsed.sub !== 'string' || !Array.isArray(parsed.roles) || typeof parsed.iat !== 'number') return null;
    const roles = Object.freeze(parsed.roles.filter((r): r is string => typeof r === 'string'));
    return { secret, identity: Object.freeze({ sub: parsed.sub, roles }), iat: parsed.iat };
  } catch {
    return null;
  }
}

export function verifyIdentity(header: string | null | undefined, secret: string, nowMs = Date.now()): Identity | null {
  if (!header) return null;
  let entry = verified.get(header);
  if (entry === undefined || entry.secret !== secret) {
    const checked = checkSignature(header, secret);
    if (checked === null) return null;
    entry = checked;
    remember(verified, header, entry);
  }
  if (Math.abs(nowMs - entry.iat) > MAX_AGE_MS) {
    // Expired for good (as opposed to signed ahead of this clock): no use keeping it.
    if (nowMs > entry.iat) verified.delete(header);
    return null;
  }
  return entry.identity;
}
