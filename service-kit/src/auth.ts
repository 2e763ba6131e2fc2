import type { IncomingHttpHeaders } from 'node:http';
import { randomUUID } from 'node:crypto';
import { CORRELATION_HEADER, IDENTITY_HEADER, verifyIdentity, type Identity } from './identity.js';
import { forbidden, unauthenticated } from './errors.js';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What every subgraph resolver gets from the transport (HTTP or graphql-ws). */
export interface RequestIdentity {
  /** The verified caller, or null (no header, bad signature, expired). */
  readonly identity: Identity | null;
  readonly correlationId: string;
}

function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

/** Identity and correlation id from HTTP headers or a graphql-ws `connection_init` payload. */
export function requestIdentityFrom(source: IncomingHttpHeaders | Record<string, unknown> | null | undefined, secret: string): RequestIdentity {
  const src = (source ?? {}) as Record<string, unknown>;
  const header = first(src[IDENTITY_HEADER]);
  const corr = first(src[CORRELATION_HEADER]);
  return {
    identity: typeof header === 'string' ? verifyIdentity(header, secret) : null,
    correlationId: typeof corr === 'string' && SAFE_ID.test(corr) ? corr : randomUUID(),
  };
}

export const isAdmin = (identity: Identity | null): boolean => identity?.roles.includes('admin') ?? false;

/** The caller, or an UNAUTHENTICATED error. */
export function requireIdentity(ctx: { identity: Identity | null }): Identity {
  if (!ctx.identity) throw unauthenticated();
  return ctx.identity;
}

/** The caller when it is an admin, otherwise UNAUTHENTICATED/FORBIDDEN. */
export function requireAdmin(ctx: { identity: Identity | null }): Identity {
  const identity = requireIdentity(ctx);
  if (!isAdmin(identity)) throw forbidden('Only an admin may do this.');
  return identity;
}

/** Throws FORBIDDEN unless the caller owns the resource (`ownerId`) or is an admin. */
export function requireOwnerOrAdmin(identity: Identity, ownerId: string, what = 'this'): void {
  if (identity.sub !== ownerId && !isAdmin(identity)) throw forbidden(`You may not access ${what}.`);
}
