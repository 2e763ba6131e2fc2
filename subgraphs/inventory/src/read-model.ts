import { redisScript, type RedisClient as Redis } from '@shop/events';
import { inventoryKeys } from './keys.js';

export interface Money {
  readonly amount: number;
  readonly currency: string;
}
export interface StockLine {
  readonly productId: string;
  readonly quantity: number;
}
export interface ProductRecord {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly price: Money;
  readonly stock: { readonly available: number; readonly reserved: number; readonly sold: number };
}
export type ReservationStatus = 'reserved' | 'committed' | 'released' | 'rejected' | 'void';
export interface Reservation {
  readonly status: ReservationStatus;
  readonly lines: readonly StockLine[];
  readonly reason: string | null;
  readonly productId: string | null;
}
export interface NewProduct {
  readonly productId: string;
  readonly name: string;
  readonly description: string;
  readonly price: Money;
  readonly initialStock: number;
}

/** Applies ProductRegistered once; counters are added (HINCRBY) so a rebuild may apply it after reservations. */
const REGISTER_LUA = `
if redis.call('HGET', KEYS[1], 'registered') == '1' then return 0 end
redis.call('HSET', KEYS[1], 'registered', '1', 'id', ARGV[1], 'name', ARGV[2], 'description', ARGV[3], 'priceAmount', ARGV[4], 'currency', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'available', tonumber(ARGV[6]))
redis.call('HINCRBY', KEYS[1], 'reserved', 0)
redis.call('HINCRBY', KEYS[1], 'sold', 0)
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
`;

/** Applies ProductRestocked once per event id. -1: already applied. */
const RESTOCK_LUA = `
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return -1 end
return redis.call('HINCRBY', KEYS[1], 'available', tonumber(ARGV[2]))
`;

/**
 * Reserves every line or none, atomically (no oversell under any concurrency); idempotent per order:
 * an existing reservation (any status) is returned as it is. KEYS[1] reservation, KEYS[2..] products
 * in line order. ARGV[1] lines JSON, ARGV[2] '1' = check availability (live) / '0' = project as is (rebuild).
 * Returns {status, reason, productId}.
 */
const RESERVE_LUA = `
local existing = redis.call('HGET', KEYS[1], 'status')
if existing then
  return {existing, redis.call('HGET', KEYS[1], 'reason') or '', redis.call('HGET', KEYS[1], 'productId') or ''}
end
local lines = cjson.decode(ARGV[1])
if ARGV[2] == '1' then
  for i, line in ipairs(lines) do
    local key = KEYS[i + 1]
    local reason = nil
    if redis.call('HGET', key, 'registered') ~= '1' then
      reason = 'line ' .. i .. ': unknown product ' .. line.productId
    else
      local available = tonumber(redis.call('HGET', key, 'available') or '0')
      if available < line.quantity then
        reason = 'line ' .. i .. ' (' .. line.productId .. '): not enough stock, ' .. line.quantity .. ' requested, ' .. available .. ' available'
      end
    end
    if reason then
      redis.call('HSET', KEYS[1], 'status', 'rejected', 'lines', '[]', 'reason', reason, 'productId', line.productId)
      return {'rejected', reason, line.productId}
    end
  end
end
for i, line in ipairs(lines) do
  redis.call('HINCRBY', KEYS[i + 1], 'available', -line.quantity)
  redis.call('HINCRBY', KEYS[i + 1], 'reserved', line.quantity)
end
redis.call('HSET', KEYS[1], 'status', 'reserved', 'lines', ARGV[1])
return {'reserved', '', ''}
`;

/** Records a rejection (projection of StockReservationRejected) unless a reservation exists. */
const REJECT_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'rejected', 'lines', '[]', 'reason', ARGV[1], 'productId', ARGV[2])
return 1
`;

/**
 * Ends a reservation once: ARGV[1] 'commit' (reserved → sold) or 'release' (reserved → available).
 * Without a reservation it leaves a 'void' tombstone so a late reservation for the order does nothing.
 * Returns 'applied', 'none' (tombstone written) or the status the reservation already had.
 */
const SETTLE_LUA = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  redis.call('HSET', KEYS[1], 'status', 'void', 'lines', '[]')
  return 'none'
end
if status ~= 'reserved' then return status end
local lines = cjson.decode(redis.call('HGET', KEYS[1], 'lines'))
for i, line in ipairs(lines) do
  redis.call('HINCRBY', KEYS[i + 1], 'reserved', -line.quantity)
  if ARGV[1] == 'commit' then
    redis.call('HINCRBY', KEYS[i + 1], 'sold', line.quantity)
  else
    redis.call('HINCRBY', KEYS[i + 1], 'available', line.quantity)
  end
end
if ARGV[1] == 'commit' then
  redis.call('HSET', KEYS[1], 'status', 'committed')
else
  redis.call('HSET', KEYS[1], 'status', 'released')
end
return 'applied'
`;

const registerScript = redisScript<number>(REGISTER_LUA);
const restockScript = redisScript<number>(RESTOCK_LUA);
const reserveScript = redisScript<[ReservationStatus, string, string]>(RESERVE_LUA);
const rejectScript = redisScript<number>(REJECT_LUA);
const settleScript = redisScript<SettleOutcome>(SETTLE_LUA);

function toProduct(h: Record<string, string>): ProductRecord | null {
  if (h.registered !== '1' || !h.id) return null;
  return {
    id: h.id,
    name: h.name ?? '',
    description: h.description ?? '',
    price: { amount: Number(h.priceAmount ?? 0), currency: h.currency ?? 'USD' },
    stock: { available: Number(h.available ?? 0), reserved: Number(h.reserved ?? 0), sold: Number(h.sold ?? 0) },
  };
}

export type ReserveOutcome = { readonly status: ReservationStatus; readonly reason: string | null; readonly productId: string | null };
export type SettleOutcome = 'applied' | 'none' | ReservationStatus;

/** The stock read model in Redis; takes an existing client. */
export function createStockStore(redis: Redis) {
  async function reservationLines(orderId: string): Promise<StockLine[] | null> {
    const raw = await redis.hget(inventoryKeys.reservation(orderId), 'lines');
    return raw === null ? null : (JSON.parse(raw) as StockLine[]);
  }

  return {
    async register(p: NewProduct): Promise<boolean> {
      const r = await registerScript(
        redis,
        [inventoryKeys.product(p.productId), inventoryKeys.products],
        [p.productId, p.name, p.description, String(p.price.amount), p.price.currency, String(p.initialStock)],
      );
      return r === 1;
    },

    /** The new available count, or null when this restock event was already applied. */
    async restock(eventId: string, productId: string, quantity: number): Promise<number | null> {
      const r = await restockScript(redis, [inventoryKeys.product(productId), inventoryKeys.restocksApplied], [eventId, String(quantity)]);
      return r === -1 ? null : r;
    },

    /** `check: false` projects a StockReserved as it is (rebuild): the decision was made when it was published. */
    async reserve(orderId: string, lines: readonly StockLine[], check = true): Promise<ReserveOutcome> {
      const [status, reason, productId] = await reserveScript(
        redis,
        [inventoryKeys.reservation(orderId), ...lines.map((l) => inventoryKeys.product(l.productId))],
        [JSON.stringify(lines.map((l) => ({ productId: l.productId, quantity: l.quantity }))), check ? '1' : '0'],
      );
      return { status, reason: reason || null, productId: productId || null };
    },

    async recordRejection(orderId: string, reason: string, productId: string | null): Promise<boolean> {
      return (await rejectScript(redis, [inventoryKeys.reservation(orderId)], [reason, productId ?? ''])) === 1;
    },

    /** Commit or release the order's reservation once; returns the outcome and the reservation's lines. */
    async settle(orderId: string, action: 'commit' | 'release'): Promise<{ outcome: SettleOutcome; lines: StockLine[] }> {
      const lines = (await reservationLines(orderId)) ?? [];
      const outcome = await settleScript(redis, [inventoryKeys.reservation(orderId), ...lines.map((l) => inventoryKeys.product(l.productId))], [action]);
      return { outcome, lines };
    },

    async reservation(orderId: string): Promise<Reservation | null> {
      const h = await redis.hgetall(inventoryKeys.reservation(orderId));
      if (!h.status) return null;
      return { status: h.status as ReservationStatus, lines: JSON.parse(h.lines ?? '[]') as StockLine[], reason: h.reason || null, productId: h.productId || null };
    },

    async get(productId: string): Promise<ProductRecord | null> {
      return toProduct(await redis.hgetall(inventoryKeys.product(productId)));
    },

    /**
     * N products in one round trip: the commands are issued in the same tick, so the client's
     * auto-pipelining sends them in one write together with those of other requests in flight
     * (an explicit `pipeline()` costs a socket write of its own per call).
     */
    async getMany(productIds: readonly string[]): Promise<(ProductRecord | null)[]> {
      if (productIds.length === 0) return [];
      const hashes = await Promise.all(productIds.map((id) => redis.hgetall(inventoryKeys.product(id))));
      return hashes.map((h) => toProduct(h));
    },

    /** Product ids in id order after `afterId`, `count` of them. */
    async page(afterId: string | null, count: number): Promise<string[]> {
      return redis.zrangebylex(inventoryKeys.products, afterId === null ? '-' : `(${afterId}`, '+', 'LIMIT', 0, count);
    },
  };
}

export type StockStore = ReturnType<typeof createStockStore>;
