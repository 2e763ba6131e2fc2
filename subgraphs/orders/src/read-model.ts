import { redisScript, traceFields, type RedisClient as Redis } from '@shop/events';
import type { OrderStatus } from '@shop/events/contracts';
import { orderIndexMember, orderKeys } from './keys.js';
import type { OrderState } from './order-decider.js';

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
  /** The W3C trace context the order was placed in, when it was traced. */
  readonly trace?: Readonly<Record<string, string>>;
}
export interface CatalogEntry {
  readonly name: string;
  readonly price: Money;
}

/** How long a payment provider's answer is kept: long enough to cover any redelivery of the step that asked. */
const PAYMENT_ANSWER_TTL_SECONDS = 7 * 24 * 3600;

export const FINAL_STATUSES: readonly OrderStatus[] = ['CONFIRMED', 'REJECTED', 'CANCELLED'];
export const isFinal = (status: OrderStatus): boolean => FINAL_STATUSES.includes(status);

/**
 * Writes a new PENDING order with history entry 1 (the order's own slot); no-op when the order exists
 * (crash-safe replays). Returns [1 written / 0 existed, current status].
 */
const PLACE_LUA = `
local status = redis.call('HGET', KEYS[1], 'status')
if status then return { 0, status } end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'customerId', ARGV[2], 'status', 'PENDING', 'lines', ARGV[3], 'total', ARGV[4],
  'paymentToken', ARGV[5], 'createdAt', ARGV[6], 'updatedAt', ARGV[6], 'seq', 1, 'deadlineAt', ARGV[7], 'idempotencyKey', ARGV[8])
if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'trace', ARGV[10]) end
redis.call('DEL', KEYS[2])
redis.call('RPUSH', KEYS[2], ARGV[9])
return { 1, 'PENDING' }
`;

/**
 * Stores what the saga decided (`order-decider.ts`): appends the new history entries, records their causes,
 * sets status/updatedAt/seq; all only while the order is still at the sequence the decision was made on
 * (ARGV[1]), so two deciders racing on one order never both write. A payment answer the decision was made on
 * (ARGV[5]) is kept first (KEYS[4]), whatever else happens, unless another answer was kept before: then nothing is
 * written. (The deadline of a final order is dropped after it, in its own shard.)
 * ARGV: expected seq, new status, updatedAt, the status the first change leaves ('' any), payment answer ('' none),
 * its TTL in seconds, n, n entries (JSON), n cause keys.
 * Returns 1 stored, 0 the order moved on (decide again), -1 no such order, -2 another payment answer was kept first.
 */
const APPLY_CHANGES_LUA = `
if ARGV[5] ~= '' then
  local earlier = redis.call('GET', KEYS[4])
  if earlier and earlier ~= ARGV[5] then return -2 end
  if not earlier then redis.call('SET', KEYS[4], ARGV[5], 'EX', tonumber(ARGV[6])) end
end
local cur = redis.call('HGET', KEYS[1], 'seq')
if not cur then return -1 end
local seq = tonumber(ARGV[1])
if tonumber(cur) ~= seq then return 0 end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'status') ~= ARGV[4] then return 0 end
local n = tonumber(ARGV[7])
for i = 1, n do
  redis.call('RPUSH', KEYS[2], ARGV[7 + i])
  redis.call('HSET', KEYS[3], ARGV[7 + n + i], seq + i)
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updatedAt', ARGV[3], 'seq', seq + n)
return 1
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
return 1
`;

/** Moves due order ids to a later retry time (so other replicas skip them) and returns them. */
const CLAIM_DUE_LUA = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], id) end
return due
`;

const placeScript = redisScript<[number, OrderStatus]>(PLACE_LUA);
const claimDueScript = redisScript<string[]>(CLAIM_DUE_LUA);
const applyChangesScript = redisScript<number>(APPLY_CHANGES_LUA);
const projectChangeScript = redisScript<number>(PROJECT_CHANGE_LUA);

/** A history entry as stored: JSON in a fixed field order, so a rebuilt history is byte-for-byte the original. */
export function historyEntry(change: StatusChange): string {
  const entry: StatusChange = {
    orderId: change.orderId,
    sequence: change.sequence,
    status: change.status,
    previous: change.previous,
    reason: change.reason,
    at: change.at,
  };
  return JSON.stringify(entry);
}

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
    ...(h.trace ? { trace: JSON.parse(h.trace) as Record<string, string> } : {}),
  };
}

/** The trace context the order is placed in (JSON, '' when untraced): replayed changes are pushed in it. */
function placedTrace(): string {
  const fields = traceFields();
  return fields['traceparent'] ? JSON.stringify(fields) : '';
}

/** A new order as `place` writes it: PENDING, history entry 1. */
export function pendingOrder(order: NewOrder): OrderRecord {
  return { ...order, status: 'PENDING', updatedAt: order.createdAt, sequence: 1 };
}

/** History entry 1 of a new order. */
function pendingChange(order: NewOrder): StatusChange {
  return { orderId: order.id, sequence: 1, status: 'PENDING', previous: null, reason: null, at: order.createdAt };
}

/** A new order as `loadState` reads it right after `place` wrote it: no transition yet, so no causes. */
export function placedState(order: NewOrder): OrderState {
  return { id: order.id, customerId: order.customerId, status: 'PENDING', sequence: 1, total: order.total, paymentToken: order.paymentToken, history: [pendingChange(order)], causes: new Map() };
}

/** The orders read model in Redis; takes the caller's client, whose connection and close the caller owns. */
export function createOrderStore(redis: Redis) {
  return {
    /**
     * Idempotent: true when written now, false when the order already existed. The order's own keys are
     * written in one script; the indexes after it (other slots), also when the order existed, so a crash
     * between the two is repaired when OrderPlaced is delivered again.
     */
    async place(order: NewOrder): Promise<boolean> {
      const member = orderIndexMember(order.createdAt, order.id);
      // The indexes and the deadline go out with the script, on the same round trip (auto-pipelined), not after
      // it: the client waits for this. They are idempotent; a deadline added for an order that turns out to be
      // final already (placed and settled by the projector and the saga first, rare) is taken back.
      const [[written, status]] = await Promise.all([
        placeScript(redis, [orderKeys.order(order.id), orderKeys.history(order.id)], [
          order.id,
          order.customerId,
          JSON.stringify(order.lines),
          JSON.stringify(order.total),
          order.paymentToken,
          order.createdAt,
          order.deadlineAt,
          order.idempotencyKey ?? '',
          historyEntry(pendingChange(order)),
          placedTrace(),
        ]),
        redis.zadd(orderKeys.byCustomer(order.customerId), 0, member),
        redis.zadd(orderKeys.all, 0, member),
        // NX: a deadline the poller already pushed back stays where it is.
        redis.zadd(orderKeys.deadlines(order.id), 'NX', Date.parse(order.deadlineAt), order.id),
      ]);
      if (isFinal(status)) await redis.zrem(orderKeys.deadlines(order.id), order.id);
      return written === 1;
    },

    /** The order as the saga decides on it (hash, history and causes read together), or null. */
    async loadState(orderId: string): Promise<OrderState | null> {
      const [hash, causes, history] = await Promise.all([
        redis.hgetall(orderKeys.order(orderId)),
        redis.hgetall(orderKeys.causes(orderId)),
        redis.lrange(orderKeys.history(orderId), 0, -1),
      ]);
      const order = toRecord(hash);
      if (!order) return null;
      return {
        id: order.id,
        customerId: order.customerId,
        status: order.status,
        sequence: order.sequence,
        total: order.total,
        paymentToken: order.paymentToken,
        history: history.map((e) => JSON.parse(e) as StatusChange),
        causes: new Map(Object.entries(causes).map(([cause, seq]) => [cause, Number(seq)])),
      };
    },

    /**
     * Stores decided changes made on `expectedSequence`: 'stored', 'conflict' (it moved on), 'missing', or
     * 'other-answer' when the decision used a payment answer (`paymentAnswer`, kept with the changes) and another
     * one was kept first (decide again on that one).
     */
    async applyChanges(
      orderId: string,
      expectedSequence: number,
      changes: readonly StatusChange[],
      causes: readonly string[],
      paymentAnswer?: string,
    ): Promise<'stored' | 'conflict' | 'missing' | 'other-answer'> {
      const last = changes[changes.length - 1];
      if (!last || causes.length !== changes.length) throw new TypeError('applyChanges: one cause per change, at least one change');
      const r = await applyChangesScript(
        redis,
        [orderKeys.order(orderId), orderKeys.history(orderId), orderKeys.causes(orderId), orderKeys.payment(orderId)],
        // The status the first change leaves, too: a decision made on a remembered state must find it unchanged.
        [
          expectedSequence,
          last.status,
          last.at,
          changes[0]!.previous ?? '',
          paymentAnswer ?? '',
          PAYMENT_ANSWER_TTL_SECONDS,
          changes.length,
          ...changes.map(historyEntry),
          ...causes,
        ],
      );
      // A final change's deadline is removed by the saga once Kafka has the change (`removeDeadline`).
      return r === 1 ? 'stored' : r === 0 ? 'conflict' : r === -2 ? 'other-answer' : 'missing';
    },

    /** The payment provider's answer kept for an order (JSON), if any. */
    paymentAnswer(orderId: string): Promise<string | null> {
      return redis.get(orderKeys.payment(orderId));
    },

    /** Keeps a payment provider's answer (JSON) unless one was kept first; returns that earlier one, if any. */
    keepPaymentAnswer(orderId: string, answer: string): Promise<string | null> {
      return redis.set(orderKeys.payment(orderId), answer, 'EX', PAYMENT_ANSWER_TTL_SECONDS, 'NX', 'GET');
    },

    /** 1 applied, 0 already there, -1 order unknown, -2 a gap (an earlier change is missing). */
    async projectChange(change: StatusChange, cause: string | null): Promise<number> {
      const keys = [orderKeys.order(change.orderId), orderKeys.history(change.orderId), orderKeys.causes(change.orderId)];
      const [r] = await Promise.all([
        projectChangeScript(redis, keys, [historyEntry(change), String(change.sequence), change.status, change.at, change.orderId, '', cause ?? '']),
        // Issued with the script, whatever it answers (the same write): a final change in the log means the
        // order is final, whether or not its history here has caught up. Repairs a saga that died before it
        // removed the deadline itself.
        isFinal(change.status) ? redis.zrem(orderKeys.deadlines(change.orderId), change.orderId) : undefined,
      ]);
      return r;
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

    /** Claims up to `limit` due orders from every deadline shard (each shard's claim is one script in its slot). */
    async claimDue(nowMs: number, limit: number, retryAfterMs: number): Promise<string[]> {
      const args = [String(nowMs), String(limit), String(nowMs + retryAfterMs)];
      const perShard = await Promise.all(orderKeys.deadlineShards().map((key) => claimDueScript(redis, [key], args)));
      return perShard.flat();
    },

    /** The order needs no deadline any more (it is final). */
    async removeDeadline(orderId: string): Promise<void> {
      await redis.zrem(orderKeys.deadlines(orderId), orderId);
    },
  };
}

export type OrderStore = ReturnType<typeof createOrderStore>;
