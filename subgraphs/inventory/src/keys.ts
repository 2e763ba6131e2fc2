/**
 * Every Redis key and pub/sub channel of the inventory service, in one place.
 *
 * - `inventory:product:<id>` hash: id, name, description, priceAmount, currency, available, reserved,
 *   sold, registered ("1" once ProductRegistered was applied; stock counters may exist before it
 *   during a rebuild, because catalog and reservation events sit in different partitions)
 * - `inventory:products` lex-sorted set of product ids (catalog order and pagination)
 * - `inventory:reservation:<orderId>` hash: status (reserved | committed | released | rejected | void),
 *   lines (JSON [{productId, quantity}]), reason, productId
 * - `inventory:restocks-applied` set of ProductRestocked event ids already applied
 */
export const KEY_PREFIX = 'inventory:';

export const inventoryKeys = {
  product: (productId: string) => `inventory:product:${productId}`,
  products: 'inventory:products',
  reservation: (orderId: string) => `inventory:reservation:${orderId}`,
  restocksApplied: 'inventory:restocks-applied',
} as const;

/** Redis pub/sub channels (graphql-redis-subscriptions triggers). */
export const inventoryChannels = {
  /** A message `{ productId }` after every change of the product's stock. */
  stock: (productId: string) => `stock:${productId}`,
} as const;

/** `prd_` + 3..64 url-safe characters. */
export const PRODUCT_ID = /^prd_[A-Za-z0-9_-]{3,64}$/;
