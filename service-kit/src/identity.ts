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

/** What a verified header says: who the caller is, or `null` for an anonymous caller the gateway vouches for. */
export interface VerifiedCaller {
  readonly identity: Identity | null;
}

/**
 * How long a signed identity stays valid. The gateway signs right before each call (and on every
 * upstream (re)connect), so a few seconds is plenty; it bounds the replay of a captured header.
 */
export const IDENTITY_MAX_AGE_MS = 30_000;
/** How far ahead of a subgraph's clock a header may be dated (clock skew between hosts). */
export const IDENTITY_CLOCK_SKEW_MS = 2_000;
/**
 * A signed value is handed out again for this long to the same identity and audience, so a
 * subgraph sees the same header on consecutive calls and answers them from its cache of verified
 * values instead of computing the HMAC each time. Such a value is at most this much older than a fresh one.
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

/** Recently signed values by secret, audience and identity. */
const signed = new Map<string, { readonly header: string; readonly iat: number }>();

/**
 * Wire format: `base64url(JSON {sub, roles, iat, aud})` + `.` + `base64url(HMAC-SHA256(secret, first part))`.
 * `aud` is the subgraph the value is for (a value captured at one subgraph is refused by the others);
 * `sub: null` is an anonymous caller, signed so that a subgraph can tell the gateway from anyone else.
 * Subgraphs trust identity only through this, so a direct call without the secret gets no personal data.
 * The same identity signed again for the same audience within `SIGN_REUSE_MS` gets the same value.
 */
export function signIdentity(identity: Identity | null, secret: string, audience: string, nowMs = Date.now()): string {
  const key = JSON.stringify([secret, audience, identity?.sub ?? null, identity?.roles ?? []]);
  const recent = signed.get(key);
  if (recent !== undefined && nowMs >= recent.iat && nowMs - recent.iat < SIGN_REUSE_MS) return recent.header;
  const payload = Buffer.from(JSON.stringify({ sub: identity?.sub ?? null, roles: identity?.roles ?? [], iat: nowMs, aud: audience })).toString('base64url');
  const header = `${payload}.${mac(payload, secret).toString('base64url')}`;
  remember(signed, key, { header, iat: nowMs });
  return header;
}

interface Verified {
  readonly caller: VerifiedCaller;
  readonly secret: string;
  readonly audience: string;
  readonly iat: number;
}

/**
 * Header values whose signature was checked, with what they carry. A value is only ever added
 * after its HMAC matched, so a forged or tampered header always goes through the full check; the
 * age and audience checks are made on every use, so a cached value stops being accepted when it expires.
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
    const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown; roles?: unknown; iat?: unknown; aud?: unknown };
    if ((typeof parsed.sub !== 'string' && parsed.sub !== null) || !Array.isArray(parsed.roles) || typeof parsed.iat !== 'number' || typeof parsed.aud !== 'string') return null;
    const roles = Object.freeze(parsed.roles.filter((r): r is string => typeof r === 'string'));
    const identity = parsed.sub === null ? null : Object.freeze({ sub: parsed.sub, roles });
    return { caller: Object.freeze({ identity }), secret, audience: parsed.aud, iat: parsed.iat };
  } catch {
    return null;
  }
}

/**
 * The caller a header vouches for, or `null` when it is missing, forged, for another audience,
 * older than `IDENTITY_MAX_AGE_MS` or dated more than `IDENTITY_CLOCK_SKEW_MS` ahead.
 */
export function verifyCaller(header: string | null | undefined, secret: string, audience: string, nowMs = Date.now()): VerifiedCaller | null {
  if (!header) return null;
  let entry = verified.get(header);
  if (entry === undefined || entry.secret !== secret) {
    const checked = checkSignature(header, secret);
    if (checked === null) return null;
    entry = checked;
    remember(verified, header, entry);
  }
  if (entry.audience !== audience) return null;
  const age = nowMs - entry.iat;
  if (age > IDENTITY_MAX_AGE_MS) {
    verified.delete(header); // expired for good
    return null;
  }
  if (age < -IDENTITY_CLOCK_SKEW_MS) return null;
  return entry.caller;
}

/** The identity a header carries; `null` for no, a bad or an anonymous header alike. */
export function verifyIdentity(header: string | null | undefined, secret: string, audience: string, nowMs = Date.now()): Identity | null {
  return verifyCaller(header, secret, audience, nowMs)?.identity ?? null;
}
