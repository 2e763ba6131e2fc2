import { createHash } from 'node:crypto';
import { redisScript, type RedisClient as Redis } from '@shop/events';
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

/** The notification's own hash; returns [1 written / 0 existed, its read flag]. */
const RECORD_LUA = `
local read = redis.call('HGET', KEYS[1], 'read')
if read then return { 0, read } end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'orderId', ARGV[2], 'customerId', ARGV[3], 'kind', ARGV[4], 'message', ARGV[5], 'createdAt', ARGV[6], 'read', '0')
return { 1, '0' }
`;

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

const recordScript = redisScript<[number, string]>(RECORD_LUA);

export function createNotificationStore(redis: Redis) {
  /** Ids of the customer's notifications created at or after `sinceMs`, oldest first. */
  const idsSince = async (customerId: string, sinceMs: number): Promise<string[]> => {
    const members = await redis.zrangebylex(notificationKeys.byCustomer(customerId), `[${notificationIndexTime(sinceMs)}`, '+');
    return members.map((m) => m.slice(m.indexOf(':') + 1));
  };

  return {
    /**
     * Idempotent by id; true when recorded now. The notification first, then the indexes (other slots),
     * also when it existed, so a redelivery repairs a crash in between.
     */
    async record(n: Omit<NotificationRecord, 'read'>): Promise<boolean> {
      const member = notificationIndexMember(n.createdAt, n.id);
      const key = notificationKeys.notification(n.id);
      const [written, read] = await recordScript(redis, [key], [n.id, n.orderId, n.customerId, n.kind, n.message, n.createdAt]);
      await Promise.all([
        redis.zadd(notificationKeys.byCustomer(n.customerId), 0, member),
        redis.zadd(notificationKeys.byOrder(n.orderId), Date.parse(n.createdAt), n.id),
        read === '1' ? undefined : redis.zadd(notificationKeys.unread(n.customerId), 0, member),
      ]);
      // markRead sets the flag before it removes the member: read again, so a markRead that ran between our
      // read and our ZADD does not leave a read notification in the unread set.
      if (written === 0 && read !== '1' && (await redis.hget(key, 'read')) === '1') await redis.zrem(notificationKeys.unread(n.customerId), member);
      return written === 1;
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
      // Two auto-pipelined rounds (each order's set, then the notifications): the keys live in many slots.
      const idLists = await Promise.all(orderIds.map((id) => redis.zrange(notificationKeys.byOrder(id), 0, -1)));
      const hashes = await Promise.all(idLists.flat().map((id) => redis.hgetall(notificationKeys.notification(id))));
      let next = 0;
      return idLists.map((ids) => ids.map(() => toRecord(hashes[next++]!)).filter((n): n is NotificationRecord => n !== null));
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

    /** The flag, then the unread index (another slot): `record` relies on this order. */
    async markRead(n: NotificationRecord): Promise<void> {
      await redis.hset(notificationKeys.notification(n.id), 'read', '1');
      await redis.zrem(notificationKeys.unread(n.customerId), notificationIndexMember(n.createdAt, n.id));
    },
  };
}
export type NotificationStore = ReturnType<typeof createNotificationStore>;
