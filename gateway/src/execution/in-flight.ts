import type { Identity } from '@shop/service-kit';

/**
 * In-flight sharing of identical subgraph fetches: while one request is on the wire, an identical
 * one waits for its answer instead of being sent again. Nothing is cached: the entry is gone as
 * soon as the request settles, so an answer (or a failure) reaches only the fetches that were
 * waiting on that very request, and the next fetch is sent anew.
 */
export class InFlight<T> {
  readonly #pending = new Map<string, Promise<T>>();

  /** `start()`'s promise, or the one already in flight under `key` (`shared: true`). */
  run(key: string, start: () => Promise<T>): { readonly promise: Promise<T>; readonly shared: boolean } {
    const pending = this.#pending.get(key);
    if (pending) return { promise: pending, shared: true };
    // Removed before any waiter resumes, so no fetch can join a request that has already settled.
    const promise = start().finally(() => this.#pending.delete(key));
    this.#pending.set(key, promise);
    return { promise, shared: false };
  }

  get size(): number {
    return this.#pending.size;
  }
}

/**
 * Only reads may be shared: a query's text starts with `query` or `{` (the query planner writes no
 * comments). Anything else (a mutation, a subscription, a text this check does not recognise) is
 * always sent on its own.
 */
export function isShareableOperation(query: string): boolean {
  return /^\s*(?:query\b|\{)/.test(query);
}

/** The caller as the signed identity header names it, unambiguously (roles in any order are the same caller). */
export function callerKey(identity: Identity | null): string {
  return identity ? JSON.stringify([identity.sub, [...identity.roles].sort()]) : 'null';
}

/** The caller part of `operationKey` for a query whose answer is the same for everyone. */
export const ANY_CALLER = '*';

/**
 * What makes two client queries identical: the caller (`callerKey`, or `ANY_CALLER` when no fetch of
 * the plan carries an identity, so no part of the answer depends on who asks), the operation name,
 * the variables and the document. No part but the last can hold a NUL, so no two differ only in
 * where one ends.
 */
export function operationKey(caller: string, operationName: string | undefined, variables: Record<string, unknown>, query: string): string {
  return `${caller}\u0000${operationName ?? ''}\u0000${JSON.stringify(variables)}\u0000${query}`;
}

/**
 * What makes two fetches identical: the subgraph, the caller (the identity header is signed per
 * caller and changes the answer) and the body (document, operation name, variables). Headers that
 * cannot change the answer are left out: the correlation id and the trace context (`traceparent`),
 * so identical fetches of different requests or traces still share, and the shared request carries
 * the first caller's.
 */
export function fetchKey(subgraph: string, caller: string, body: string): string {
  return `${subgraph}\u0000${caller}\u0000${body}`;
}
