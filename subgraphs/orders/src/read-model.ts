import type { Redis } from 'ioredis';
import type { OrderStatus } from '@shop/events/contracts';
import { orderIndexMember, orderKeys } from './keys.js';

export interface Money {
  readonly amount: number;
  readonly currency: string;
}
export interface OrderLine {
  readonly productId: string;
  readonly quantity: number;
  readonly unitPrice: Money;
}
/** One entry of an order's history; `sequence` starts at 1 (PENDING) and has no gaps. */
export interface StatusChange {
  readonly orderId: string;
  readonly sequence: number;
  readonly status: OrderStatus;
  readonly previous: OrderStatus | null;
  readonly reason: string | null;
  readonly at: string;
}
export interface OrderRecord {
  readonly id: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly lines: readonly OrderLine[];
  readonly total: Money;
  readonly paymentToken: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly sequence: number;
  readonly deadlineAt: string;
  readonly idempotencyKey: string | null;
}
export interface CatalogEntry {
  readonly name: string;
  readonly price: Money;
}

export const FINAL_STATUSES: readonly OrderStatus[] = ['CONFIRMED', 'REJECTED', 'CANCELLED'];
export const isFinal = (status: OrderStatus): boolean => FINAL_STATUSES.includes(status);

/** Writes a new PENDING order with history entry 1; no-op when the order exists (crash-safe replays). */
const PLACE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'customerId', ARGV[2], 'status', 'PENDING', 'lines', ARGV[3], 'total', ARGV[4],
  'paymentToken', ARGV[5], 'createdAt', ARGV[6], 'updatedAt', ARGV[6], 'seq', 1, 'deadlineAt', ARGV[7], 'idempotencyKey', ARGV[9])
redis.call('DEL', KEYS[2])
redis.call('RPUSH', KEYS[2], ARGV[11])
redis.call('ZADD', KEYS[3], 0, ARGV[10])
redis.call('ZADD', KEYS[4], 0, ARGV[10])
if ARGV[12] == '0' then redis.call('ZADD', KEYS[5], ARGV[8], ARGV[1]) end
return 1
`;

/**
 * The one state-machine step: atomic check of the from-status, next sequence, history append,
 * status/updatedAt, idempotent by cause (a cause already applied returns its entry again).
 * Returns { kind, entry-or-status, customerId }.
 */
const TRANSITION_LUA = `
local existing = redis.call('HGET', KEYS[3], ARGV[1])
if existing then
  return {'duplicate', redis.call('LINDEX', KEYS[2], tonumber(existing) - 1), redis.call('HGET', KEYS[1], 'customerId')}
end
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing', '', ''} end
local allowed = false
for s in string.gmatch(ARGV[3], '[^,]+') do
  if s == status then allowed = true end
end
if not allowed then return {'rejected', status, ''} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
-- Built as text in the same field order as JSON.stringify in TypeScript (the projector's entries),
-- so a rebuilt history is byte-for-byte the original. ARGV[8] is the JSON-encoded reason or null.
local entry = '{"orderId":' .. ARGV[9] .. ',"sequence":' .. seq .. ',"status":"' .. ARGV[2] .. '","previous":"' .. status ..
  '","reason":' .. ARGV[8] .. ',"at":' .. ARGV[10] .. '}'
redis.call('RPUSH', KEYS[2], entry)
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updatedAt', ARGV[5])
redis.call('HSET', KEYS[3], ARGV[1], seq)
if ARGV[7] == '1' then redis.call('ZREM', KEYS[4], ARGV[6]) end
return {'applied', entry, redis.call('HGET', KEYS[1], 'customerId')}
`;

/**
 * Projection of an OrderStatusChanged (rebuild, or the live echo of our own event): applies the
 * change only when it is the next sequence; an older one is a no-op. -1: order unknown, -2: gap.
 */
const PROJECT_CHANGE_LUA = `
local cur = redis.call('HGET', KEYS[1], 'seq')
if not cur then return -1 end
local seq = tonumber(ARGV[2])
if seq <= tonumber(cur) then return 0 end
if seq ~= tonumber(cur) + 1 then return -2 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'updatedAt', ARGV[4], 'seq', seq)
if ARGV[7] ~= '' then redis.call('HSET', KEYS[3], ARGV[7], seq) end
if ARGV[6] == '1' then redis.call('ZREM', KEYS[4], ARGV[5]) end
return 1
`;

/** Moves due order ids to a later retry time (so other replicas skip them) and returns them. */
const CLAIM_DUE_LUA = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], id) end
return due
`;

export type TransitionResult =
  | { readonly kind: 'applied' | 'duplicate'; readonly change: StatusChange; readonly customerId: string }
  | { readonly kind: 'rejected'; readonly current: OrderStatus }
  | { readonly kind: 'missing' };

export interface NewOrder {
  readonly id: string;
  readonly customerId: string;
  readonly lines: readonly OrderLine[];
  readonly total: Money;
  readonly paymentToken: string;
  readonly createdAt: string;
  readonly deadlineAt: string;
  readonly idempotencyKey: string | null;
}

/** Historic cause key of a transition: the same event moving to the same status applies once. */
export const causeKey = (eventId: string, to: OrderStatus): string => `${eventId}:${to}`;

function toRecord(h: Record<string, string>): OrderRecord | null {
  if (!h.id) return null;
  return {
    id: h.id,
    customerId: h.customerId ?? '',
    status: h.status as OrderStatus,
    lines: JSON.parse(h.lines ?? '[]') as OrderLine[],
    total: JSON.parse(h.total ?? '{"amount":0,"currency":"USD"}') as Money,
    paymentToken: h.paymentToken ?? '',
    createdAt: h.createdAt ?? '',
    updatedAt: h.updatedAt ?? '',
    sequence: Number(h.seq ?? 0),
    deadlineAt: h.deadlineAt ?? '',
    idempotencyKey: h.idempotencyKey ? h.idempotencyKey : null,
  };
}

/** The orders read model in Redis; takes an existing client (STYLE §7). */
export function createOrderStore(redis: Redis) {
  return {
    /** Idempotent: true when written now, false when the order already existed. */
    async place(order: NewOrder): Promise<boolean> {
      const entry: StatusChange = { orderId: order.id, sequence: 1, status: 'PENDING', previous: null, reason: null, at: order.createdAt };
      const member = orderIndexMember(order.createdAt, order.id);
      const result = await redis.eval(
        PLACE_LUA,
        5,
        orderKeys.order(order.id),
        orderKeys.history(order.id),
        orderKeys.byCustomer(order.customerId),
        orderKeys.all,
        orderKeys.deadlines,
        order.id,
        order.customerId,
        JSON.stringify(order.lines),
        JSON.stringify(order.total),
        order.paymentToken,
        order.createdAt,
        order.deadlineAt,
        String(Date.parse(order.deadlineAt)),
        order.idempotencyKey ?? '',
        member,
        JSON.stringify(entry),
        '0',
      );
      return result === 1;
    },

    async transition(args: {
      orderId: string;
      cause: string;
      to: OrderStatus;
      from: readonly OrderStatus[];
      reason: string | null;
      at: string;
    }): Promise<TransitionResult> {
      const [kind, value, customerId] = (await redis.eval(
        TRANSITION_LUA,
        4,
        orderKeys.order(args.orderId),
        orderKeys.history(args.orderId),
        orderKeys.causes(args.orderId),
        orderKeys.deadlines,
        args.cause,
        args.to,
        args.from.join(','),
        args.reason ?? '',
        args.at,
        args.orderId,
        isFinal(args.to) ? '1' : '0',
        JSON.stringify(args.reason),
        JSON.stringify(args.orderId),
        JSON.stringify(args.at),
      )) as [string, string, string];
      if (kind === 'missing') return { kind };
      if (kind === 'rejected') return { kind, current: value as OrderStatus };
      return { kind: kind as 'applied' | 'duplicate', change: JSON.parse(value) as StatusChange, customerId };
    },

    /** 1 applied, 0 already there, -1 order unknown, -2 a gap (an earlier change is missing). */
    async projectChange(change: StatusChange, cause: string | null): Promise<number> {
      const entry: StatusChange = {
        orderId: change.orderId,
        sequence: change.sequence,
        status: change.status,
        previous: change.previous,
        reason: change.reason,
        at: change.at,
      };
      return (await redis.eval(
        PROJECT_CHANGE_LUA,
        4,
        orderKeys.order(change.orderId),
        orderKeys.history(change.orderId),
        orderKeys.causes(change.orderId),
        orderKeys.deadlines,
        JSON.stringify(entry),
        String(change.sequence),
        change.status,
        change.at,
        change.orderId,
        isFinal(change.status) ? '1' : '0',
        cause ?? '',
      )) as number;
    },

    async get(orderId: string): Promise<OrderRecord | null> {
      return toRecord(await redis.hgetall(orderKeys.order(orderId)));
    },

    /**
     * N orders in one round trip: the commands are issued in the same tick, so the client's
     * auto-pipelining sends them in one write together with those of other requests in flight
     * (an explicit `pipeline()` costs a socket write of its own per call).
     */
    async getMany(orderIds: readonly string[]): Promise<(OrderRecord | null)[]> {
      if (orderIds.length === 0) return [];
      const hashes = await Promise.all(orderIds.map((id) => redis.hgetall(orderKeys.order(id))));
      return hashes.map((h) => toRecord(h));
    },

    async history(orderId: string): Promise<StatusChange[]> {
      return (await redis.lrange(orderKeys.history(orderId), 0, -1)).map((e) => JSON.parse(e) as StatusChange);
    },

    /** N histories in one round trip (auto-pipelined, as `getMany`). */
    async historyMany(orderIds: readonly string[]): Promise<StatusChange[][]> {
      if (orderIds.length === 0) return [];
      const lists = await Promise.all(orderIds.map((id) => redis.lrange(orderKeys.history(id), 0, -1)));
      return lists.map((list) => list.map((e) => JSON.parse(e) as StatusChange));
    },

    /** Ids of a customer's (or all) orders, newest first, after the cursor member; one more than asked to know hasNextPage. */
    async page(customerId: string | null, afterMember: string | null, count: number): Promise<string[]> {
      const key = customerId === null ? orderKeys.all : orderKeys.byCustomer(customerId);
      return redis.zrevrangebylex(key, afterMember === null ? '+' : `(${afterMember}`, '-', 'LIMIT', 0, count);
    },

    async catalog(productIds: readonly string[]): Promise<(CatalogEntry | null)[]> {
      if (productIds.length === 0) return [];
      const values = await redis.hmget(orderKeys.catalog, ...productIds);
      return values.map((v) => (v ? (JSON.parse(v) as CatalogEntry) : null));
    },

    async putCatalog(productId: string, entry: CatalogEntry): Promise<void> {
      await redis.hset(orderKeys.catalog, productId, JSON.stringify(entry));
    },

    async claimDue(nowMs: number, limit: number, retryAfterMs: number): Promise<string[]> {
      return (await redis.eval(CLAIM_DUE_LUA, 1, orderKeys.deadlines, String(nowMs), String(limit), String(nowMs + retryAfterMs))) as string[];
    },

    async removeDeadline(orderId: string): Promise<void> {
      await redis.zrem(orderKeys.deadlines, orderId);
    },
  };
}

export type OrderStore = ReturnType<typeof createOrderStore>;
