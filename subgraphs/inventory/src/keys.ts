/**
 * Every Redis key and pub/sub channel of the inventory service, in one place.
 *
 * All of them share one hash tag, `{stock}`, so on a Redis Cluster they live in one slot: a reservation
 * takes the stock of every product of an order in one script, and that is only atomic within a slot. The
 * stock is small (a hash per product, one per order in flight); spreading it would need a reservation per
 * product with compensation, a different saga.
 *
 * - `inventory:{stock}:product:<id>` hash: id, name, description, priceAmount, currency, available, reserved,
 *   sold, registered ("1" once ProductRegistered was applied; stock counters may exist before it
 *   during a rebuild, because catalog and reservation events sit in different partitions)
 * - `inventory:{stock}:products` lex-sorted set of product ids (catalog order and pagination)
 * - `inventory:{stock}:reservation:<orderId>` hash: status (reserved | committed | released | rejected | void),
 *   lines (JSON [{productId, quantity}]), reason, productId
 * - `inventory:{stock}:restocks-applied` set of ProductRestocked event ids already applied
 */
export const KEY_PREFIX = 'inventory:';

export const inventoryKeys = {
  product: (productId: string) => `inventory:{stock}:product:${productId}`,
  products: 'inventory:{stock}:products',
  reservation: (orderId: string) => `inventory:{stock}:reservation:${orderId}`,
  restocksApplied: 'inventory:{stock}:restocks-applied',
} as const;

/**
 * Redis pub/sub channels, tagged by product (not `{stock}`): on a cluster each product's channel is sharded to
 * a slot of its own, so stock pushes spread over the masters even though the stock itself is one slot.
 */
export const inventoryChannels = {
  /** A message `{ productId }` after every change of the product's stock. */
  stock: (productId: string) => `stock:{${productId}}`,
} as const;

/** `prd_` + 3..64 url-safe characters. */
export const PRODUCT_ID = /^prd_[A-Za-z0-9_-]{3,64}$/;
