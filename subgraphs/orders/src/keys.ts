/**
 * Every Redis key and pub/sub channel of the orders service, in one place.
 *
 * - `orders:order:<id>` hash: id, customerId, status, lines (JSON), total (JSON), paymentToken,
 *   createdAt, updatedAt, seq (last history sequence), deadlineAt, idempotencyKey
 * - `orders:order:<id>:history` list of JSON status changes; index i holds sequence i+1
 * - `orders:order:<id>:causes` hash `<causing event id>:<to status>` → sequence (transition idempotency)
 * - `orders:claim:<id>` short-lived idempotency-key claim while placeOrder publishes
 * - `orders:payment:<id>` the payment provider's answer (JSON), so a redelivery never charges twice
 * - `orders:by-customer:<customerId>` / `orders:all` lex-sorted sets of `<createdAtMs>:<orderId>` (newest last)
 * - `orders:deadlines` sorted set orderId by saga deadline (ms)
 * - `orders:catalog` hash productId → JSON { name, price } (projection of ProductRegistered)
 */
export const KEY_PREFIX = 'orders:';

export const orderKeys = {
  order: (orderId: string) => `orders:order:${orderId}`,
  history: (orderId: string) => `orders:order:${orderId}:history`,
  causes: (orderId: string) => `orders:order:${orderId}:causes`,
  claim: (orderId: string) => `orders:claim:${orderId}`,
  payment: (orderId: string) => `orders:payment:${orderId}`,
  byCustomer: (customerId: string) => `orders:by-customer:${customerId}`,
  all: 'orders:all',
  deadlines: 'orders:deadlines',
  catalog: 'orders:catalog',
} as const;

/** Redis pub/sub channels (graphql-redis-subscriptions triggers). */
export const orderChannels = {
  /** One message per applied status change (JSON StatusChange). */
  orderStatus: (orderId: string) => `order-status:${orderId}`,
} as const;

/** Position of an order in the lex-sorted indexes: zero-padded creation time, then the id. */
export function orderIndexMember(createdAt: string, orderId: string): string {
  return `${String(Date.parse(createdAt)).padStart(15, '0')}:${orderId}`;
}
