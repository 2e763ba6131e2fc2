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

function mac(payload: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

/**
 * Wire format: `base64url(JSON {sub, roles, iat})` + `.` + `base64url(HMAC-SHA256(secret, first part))`.
 * Subgraphs trust identity only through this, so a direct call without the secret gets no personal data.
 */
export function signIdentity(identity: Identity, secret: string, nowMs = Date.now()): string {
  const payload = Buffer.from(JSON.stringify({ sub: identity.sub, roles: identity.roles, iat: nowMs })).toString('base64url');
  return `${payload}.${mac(payload, secret).toString('base64url')}`;
}

export function verifyIdentity(header: string | null | undefined, secret: string, nowMs = Date.now()): Identity | null {
  if (!header) return null;
  const dot = header.indexOf('.');
  if (dot <= 0) return null;
  const payload = header.slice(0, dot);
  const given = Buffer.from(header.slice(dot + 1), 'base64url');
  const expected = mac(payload, secret);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown; roles?: unknown; iat?: unknown };
    if (typeof parsed.sub !== 'string' || !Array.isArray(parsed.roles) || typeof parsed.iat !== 'number') return null;
    if (Math.abs(nowMs - parsed.iat) > MAX_AGE_MS) return null;
    return { sub: parsed.sub, roles: parsed.roles.filter((r): r is string => typeof r === 'string') };
  } catch {
    return null;
  }
}
