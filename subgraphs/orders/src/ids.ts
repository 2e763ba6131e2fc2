import { createHash, randomBytes } from 'node:crypto';

/** `ord_` + at least 20 url-safe characters. */
export const ORDER_ID = /^ord_[A-Za-z0-9_-]{20,64}$/;
/** `prd_` + 3..64 url-safe characters (the catalog's ids, e.g. `prd_espresso-beans`). */
export const PRODUCT_ID = /^prd_[A-Za-z0-9_-]{3,64}$/;

export const isOrderId = (id: string): boolean => ORDER_ID.test(id);
export const isProductId = (id: string): boolean => PRODUCT_ID.test(id);

export function newOrderId(): string {
  return `ord_${randomBytes(18).toString('base64url')}`;
}

/** The same customer + idempotency key always names the same order. */
export function orderIdForIdempotencyKey(customerId: string, idempotencyKey: string): string {
  return `ord_${createHash('sha256').update(customerId).update('\0').update(idempotencyKey).digest('base64url').slice(0, 24)}`;
}
