/**
 * Every Redis key and pub/sub channel of the notifications service, in one place.
 *
 * Keys are hash-tagged (`{…}`) by what they belong to, so on a Redis Cluster each command and script
 * touches one slot: a notification `{<id>}`, a customer's indexes `{<customerId>}`, an order's `{<orderId>}`.
 * The indexes are written after the notification, idempotently, so a redelivery repairs a crash in between.
 *
 * - `notifications:n:{<id>}` hash: id, orderId, customerId, kind, message, createdAt, read ("0"/"1")
 * - `notifications:by-customer:{<customerId>}` lex-sorted set of `<createdAtMs>:<id>` (newest last)
 * - `notifications:unread:{<customerId>}` the same members, only while unread
 * - `notifications:by-order:{<orderId>}` sorted set of notification ids by createdAt (ms)
 */
export const KEY_PREFIX = 'notifications:';

export const notificationKeys = {
  notification: (id: string) => `notifications:n:{${id}}`,
  byCustomer: (customerId: string) => `notifications:by-customer:{${customerId}}`,
  unread: (customerId: string) => `notifications:unread:{${customerId}}`,
  byOrder: (orderId: string) => `notifications:by-order:{${orderId}}`,
} as const;

/** Redis pub/sub channels, tagged like the aggregate's keys: on a cluster a channel is sharded to its customer's slot. */
export const notificationChannels = {
  /** One message (the Notification) per new notification of that customer. */
  customer: (customerId: string) => `notifications:{${customerId}}`,
} as const;

export function notificationIndexMember(createdAt: string, id: string): string {
  return `${notificationIndexTime(Date.parse(createdAt))}:${id}`;
}

/** The time part of an index member: members sort by it, so it is also the bound of a time range. */
export function notificationIndexTime(ms: number): string {
  return String(ms).padStart(15, '0');
}

export const NOTIFICATION_ID = /^ntf_[A-Za-z0-9_-]{20,64}$/;
