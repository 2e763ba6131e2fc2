import type { IncomingHttpHeaders } from 'node:http';
import { randomUUID } from 'node:crypto';
import { CORRELATION_HEADER, IDENTITY_HEADER, verifyCaller, type Identity } from './identity.js';
import { forbidden, unauthenticated } from './errors.js';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What every subgraph resolver gets from the transport (HTTP or graphql-ws). */
export interface RequestIdentity {
  /** The verified caller, or null (anonymous, or no valid header). */
  readonly identity: Identity | null;
  /** Whether a valid header came with the request, i.e. the gateway sent it (for a customer or an anonymous caller). */
  readonly viaGateway: boolean;
  readonly correlationId: string;
}

function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Identity and correlation id from HTTP headers or a graphql-ws `connection_init` payload;
 * `audience` is the receiving subgraph's name, which the header must name.
 */
export function requestIdentityFrom(source: IncomingHttpHeaders | Record<string, unknown> | null | undefined, secret: string, audience: string): RequestIdentity {
  const src = (source ?? {}) as Record<string, unknown>;
  const header = first(src[IDENTITY_HEADER]);
  const corr = first(src[CORRELATION_HEADER]);
  const caller = typeof header === 'string' ? verifyCaller(header, secret, audience) : null;
  return {
    identity: caller?.identity ?? null,
    viaGateway: caller !== null,
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

/** Whether the caller owns the resource (`ownerId`) or is an admin. */
export const ownsOrAdmin = (identity: Identity, ownerId: string): boolean => identity.sub === ownerId || isAdmin(identity);
