import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { notificationIndexMember, notificationIndexTime, notificationKeys } from './keys.js';

export interface NotificationRecord {
  readonly id: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly kind: string;
  readonly message: string;
  readonly createdAt: string;
  readonly read: boolean;
}

/** One id per causing event: a redelivered OrderStatusChanged finds its notification already there. */
export const notificationIdFor = (eventId: string): string => `ntf_${createHash('sha256').update(eventId).digest('base64url').slice(0, 24)}`;

const RECORD_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'orderId', ARGV[2], 'customerId', ARGV[3], 'kind', ARGV[4], 'message', ARGV[5], 'createdAt', ARGV[6], 'read', '0')
redis.call('ZADD', KEYS[2], 0, ARGV[7])
redis.call('ZADD', KEYS[3], 0, ARGV[7])
redis.call('ZADD', KEYS[4], ARGV[8], ARGV[1])
return 1
`;

/** Notifications of N orders in one round trip: KEYS are by-order sets, ARGV[1] the hash key prefix. */
const BY_ORDERS_LUA = `
local out = {}
for i, key in ipairs(KEYS) do
  local ids = redis.call('ZRANGE', key, 0, -1)
  local list = {}
  for j, id in ipairs(ids) do list[j] = redis.call('HGETALL', ARGV[1] .. id) end
  out[i] = list
end
return out
`;

function fromPairs(flat: string[]): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  return h;
}

function toRecord(h: Record<string, string>): NotificationRecord | null {
  if (!h.id) return null;
  return {
    id: h.id,
    orderId: h.orderId ?? '',
    customerId: h.customerId ?? '',
    kind: h.kind ?? '',
    message: h.message ?? '',
    createdAt: h.createdAt ?? '',
    read: h.read === '1',
  };
}

export function createNotificationStore(redis: Redis) {
  /** Ids of the customer's notifications created at or after `sinceMs`, oldest first. */
  const idsSince = async (customerId: string, sinceMs: number): Promise<string[]> => {
    const members = await redis.zrangebylex(notificationKeys.byCustomer(customerId), `[${notificationIndexTime(sinceMs)}`, '+');
    return members.map((m) => m.slice(m.indexOf(':') + 1));
  };

  return {
    /** Idempotent by id; true when recorded now. */
    async record(n: Omit<NotificationRecord, 'read'>): Promise<boolean> {
      const member = notificationIndexMember(n.createdAt, n.id);
      const r = await redis.eval(
        RECORD_LUA,
        4,
        notificationKeys.notification(n.id),
        notificationKeys.byCustomer(n.customerId),
        notificationKeys.unread(n.customerId),
        notificationKeys.byOrder(n.orderId),
        n.id,
        n.orderId,
        n.customerId,
        n.kind,
        n.message,
        n.createdAt,
        member,
        String(Date.parse(n.createdAt)),
      );
      return r === 1;
    },

    async get(id: string): Promise<NotificationRecord | null> {
      return toRecord(await redis.hgetall(notificationKeys.notification(id)));
    },

    /** N notifications in one round trip (same-tick commands are auto-pipelined into one write). */
    async getMany(ids: readonly string[]): Promise<(NotificationRecord | null)[]> {
      if (ids.length === 0) return [];
      const hashes = await Promise.all(ids.map((id) => redis.hgetall(notificationKeys.notification(id))));
      return hashes.map((h) => toRecord(h));
    },

    async byOrders(orderIds: readonly string[]): Promise<NotificationRecord[][]> {
      if (orderIds.length === 0) return [];
      const r = (await redis.eval(BY_ORDERS_LUA, orderIds.length, ...orderIds.map(notificationKeys.byOrder), notificationKeys.notificationPrefix)) as string[][][];
      return r.map((list) => list.map((flat) => toRecord(fromPairs(flat))).filter((n): n is NotificationRecord => n !== null));
    },

    /** Members (`<ms>:<id>`) newest first after the cursor member. */
    async page(customerId: string, unreadOnly: boolean, afterMember: string | null, count: number): Promise<string[]> {
      const key = unreadOnly ? notificationKeys.unread(customerId) : notificationKeys.byCustomer(customerId);
      return redis.zrevrangebylex(key, afterMember === null ? '+' : `(${afterMember}`, '-', 'LIMIT', 0, count);
    },

    idsSince,

    /** The customer's notifications created at or after `sinceMs`, oldest first. */
    async since(customerId: string, sinceMs: number): Promise<NotificationRecord[]> {
      const ids = await idsSince(customerId, sinceMs);
      const hashes = await Promise.all(ids.map((id) => redis.hgetall(notificationKeys.notification(id))));
      return hashes.map((h) => toRecord(h)).filter((n): n is NotificationRecord => n !== null);
    },

    async unreadCount(customerId: string): Promise<number> {
      return redis.zcard(notificationKeys.unread(customerId));
    },

    async markRead(n: NotificationRecord): Promise<void> {
      await redis
        .multi()
        .hset(notificationKeys.notification(n.id), 'read', '1')
        .zrem(notificationKeys.unread(n.customerId), notificationIndexMember(n.createdAt, n.id))
        .exec();
    },
  };
}
export type NotificationStore = ReturnType<typeof createNotificationStore>;
