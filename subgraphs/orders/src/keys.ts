/**
 * Every Redis key and pub/sub channel of the orders service, in one place.
 *
 * Keys are hash-tagged (`{…}`) by the aggregate they belong to, so on a Redis Cluster every script and
 * transaction touches one slot: an order's keys share `{<orderId>}`, a customer's index `{<customerId>}`.
 * Indexes that span orders are written after the order's own script, idempotently, so a crash in between
 * is repaired when the event is delivered again.
 *
 * - `orders:{<id>}` hash: id, customerId, status, lines (JSON), total (JSON), paymentToken,
 *   createdAt, updatedAt, seq (last history sequence), deadlineAt, idempotencyKey
 * - `orders:{<id>}:history` list of JSON status changes; index i holds sequence i+1
 * - `orders:{<id>}:causes` hash `<causing event id>:<to status>` → sequence (transition idempotency)
 * - `orders:{<id>}:claim` short-lived idempotency-key claim while placeOrder publishes
 * - `orders:{<id>}:payment` the payment provider's answer (JSON), so a redelivery never charges twice
 * - `orders:by-customer:{<customerId>}` / `orders:all` lex-sorted sets of `<createdAtMs>:<orderId>` (newest last)
 * - `orders:deadlines:{<n>}` (n in 0..DEADLINE_SHARDS-1) sorted sets orderId by saga deadline (ms); an
 *   order's shard is a hash of its id, so deadlines spread over the cluster and the poller scans every shard
 * - `orders:catalog` hash productId → JSON { name, price } (projection of ProductRegistered)
 */
export const KEY_PREFIX = 'orders:';

/** Fixed forever once orders exist (an order's shard is derived from it); 16 spreads over any cluster of up to 16 masters. */
export const DEADLINE_SHARDS = 16;

export const orderKeys = {
  order: (orderId: string) => `orders:{${orderId}}`,
  history: (orderId: string) => `orders:{${orderId}}:history`,
  causes: (orderId: string) => `orders:{${orderId}}:causes`,
  claim: (orderId: string) => `orders:{${orderId}}:claim`,
  payment: (orderId: string) => `orders:{${orderId}}:payment`,
  byCustomer: (customerId: string) => `orders:by-customer:{${customerId}}`,
  all: 'orders:all',
  /** The deadline shard holding `orderId`. */
  deadlines: (orderId: string) => deadlineShardKey(deadlineShard(orderId)),
  /** Every deadline shard, for the poller. */
  deadlineShards: () => Array.from({ length: DEADLINE_SHARDS }, (_, n) => deadlineShardKey(n)),
  catalog: 'orders:catalog',
} as const;

function deadlineShardKey(n: number): string {
  return `orders:deadlines:{${n}}`;
}

/** FNV-1a of the id, modulo the shard count: stable across processes and versions. */
export function deadlineShard(orderId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < orderId.length; i++) {
    h ^= orderId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % DEADLINE_SHARDS;
}

/** Redis pub/sub channels, tagged like the aggregate's keys: on a cluster a channel is sharded to its order's slot. */
export const orderChannels = {
  /** One message per applied status change (JSON StatusChange). */
  orderStatus: (orderId: string) => `order-status:{${orderId}}`,
} as const;

/** Position of an order in the lex-sorted indexes: zero-padded creation time, then the id. */
export function orderIndexMember(createdAt: string, orderId: string): string {
  return `${String(Date.parse(createdAt)).padStart(15, '0')}:${orderId}`;
}
