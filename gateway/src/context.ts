import type { Identity, Logger } from '@shop/service-kit';

/** What every operation carries from the edge to the subgraph calls. */
export interface GatewayContext {
  /** The verified caller, or `null` for an anonymous one. */
  readonly identity: Identity | null;
  readonly correlationId: string;
  readonly logger: Logger;
}

/** A stable key for "the same caller": identities with the same subject and roles share upstream subscriptions. */
export function identityKey(identity: Identity | null): string {
  return identity ? `${identity.sub}|${[...identity.roles].sort().join(',')}` : '(anonymous)';
}
