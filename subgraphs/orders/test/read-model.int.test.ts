/* eslint-disable @typescript-eslint/no-explicit-any -- GraphQL answers are untyped JSON; the assertions check their shape. */
/** The orders Lua scripts against a real redis-server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../../test/redis-server.js';
import { createOrderStore, type NewOrder } from '../src/read-model.js';
import { orderKeys } from '../src/keys.js';

let server: RedisServer;
let redis: Redis;
let store: ReturnType<typeof createOrderStore>;
beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
  store = createOrderStore(redis);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

let n = 0;
function newOrder(): NewOrder {
  n++;
  return {
    id: `ord_test${String(n).padStart(20, '0')}`,
    customerId: 'alice',
    lines: [{ productId: 'prd_a', quantity: 1, unitPrice: { amount: 100, currency: 'USD' } }],
    total: { amount: 100, currency: 'USD' },
    paymentToken: 'tok_visa',
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    deadlineAt: new Date(Date.UTC(2026, 0, 1, 0, 1, n)).toISOString(),
    idempotencyKey: null,
  };
}
const at = '2026-01-01T00:00:30.000Z';

describe('order read model', () => {
  it('place is idempotent and writes history entry 1, the indexes and the deadline', async () => {
    const o = newOrder();
    expect(await store.place(o)).toBe(true);
    expect(await store.place({ ...o, paymentToken: 'tok_other' })).toBe(false);
    const rec = await store.get(o.id);
    expect(rec).toMatchObject({ id: o.id, status: 'PENDING', sequence: 1, paymentToken: 'tok_visa' });
    expect(await store.history(o.id)).toEqual([{ orderId: o.id, sequence: 1, status: 'PENDING', previous: null, reason: null, at: o.createdAt }]);
    expect(await redis.zscore(orderKeys.deadlines, o.id)).toBe(String(Date.parse(o.deadlineAt)));
    expect(await store.page('alice', null, 10)).toContain(`${String(Date.parse(o.createdAt)).padStart(15, '0')}:${o.id}`);
  });

  it('transition: allowed from-status only, next sequence, idempotent by cause, final removes the deadline', async () => {
    const o = newOrder();
    await store.place(o);
    const t = (cause: string, to: any, from: any[], reason: string | null = null) => store.transition({ orderId: o.id, cause, to, from, reason, at });
    const first = await t('e1:INVENTORY_RESERVED', 'INVENTORY_RESERVED', ['PENDING']);
    expect(first).toEqual({
      kind: 'applied',
      customerId: 'alice',
      change: { orderId: o.id, sequence: 2, status: 'INVENTORY_RESERVED', previous: 'PENDING', reason: null, at },
    });
    expect(await t('e1:INVENTORY_RESERVED', 'INVENTORY_RESERVED', ['PENDING'])).toEqual({ ...first, kind: 'duplicate' });
    expect(await t('e2:REJECTED', 'REJECTED', ['PENDING'])).toEqual({ kind: 'rejected', current: 'INVENTORY_RESERVED' });
    const cancelled = await t('e3:CANCELLED', 'CANCELLED', ['PENDING', 'INVENTORY_RESERVED'], 'a "quoted" / reason');
    expect(cancelled.kind === 'applied' && cancelled.change).toMatchObject({ sequence: 3, reason: 'a "quoted" / reason' });
    expect(await redis.zscore(orderKeys.deadlines, o.id)).toBeNull();
    expect(await store.transition({ orderId: 'ord_missing000000000000000', cause: 'x', to: 'CANCELLED', from: ['PENDING'], reason: null, at })).toEqual({ kind: 'missing' });
    // The stored entries are exactly what JSON.stringify makes (the projector's format).
    const raw = await redis.lrange(orderKeys.history(o.id), 0, -1);
    expect(raw.map((r) => JSON.stringify(JSON.parse(r)))).toEqual(raw);
  });

  it('concurrent transitions of one order: one wins, sequences stay gapless', async () => {
    const o = newOrder();
    await store.place(o);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.transition({ orderId: o.id, cause: `c${i}:CANCELLED`, to: 'CANCELLED', from: ['PENDING'], reason: null, at })),
    );
    expect(results.filter((r) => r.kind === 'applied')).toHaveLength(1);
    expect((await store.history(o.id)).map((h) => h.sequence)).toEqual([1, 2]);
  });

  it('projectChange applies only the next sequence (rebuild), older ones are no-ops, gaps are reported', async () => {
    const o = newOrder();
    await store.place(o);
    const change = (sequence: number, status: any, previous: any) => ({ orderId: o.id, sequence, status, previous, reason: null, at });
    expect(await store.projectChange(change(3, 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED'), null)).toBe(-2);
    expect(await store.projectChange(change(2, 'INVENTORY_RESERVED', 'PENDING'), 'e1:INVENTORY_RESERVED')).toBe(1);
    expect(await store.projectChange(change(2, 'INVENTORY_RESERVED', 'PENDING'), 'e1:INVENTORY_RESERVED')).toBe(0);
    expect(await store.projectChange({ ...change(2, 'X', 'Y'), orderId: 'ord_missing000000000000000' } as any, null)).toBe(-1);
    // The saga sees the projected cause as applied.
    const dup = await store.transition({ orderId: o.id, cause: 'e1:INVENTORY_RESERVED', to: 'INVENTORY_RESERVED', from: ['PENDING'], reason: null, at });
    expect(dup.kind).toBe('duplicate');
  });

  it('claimDue hides claimed orders from other replicas until reclaimAfter', async () => {
    await redis.del(orderKeys.deadlines);
    await redis.zadd(orderKeys.deadlines, 1000, 'ord_a', 2000, 'ord_b', 99_999, 'ord_c');
    expect(await store.claimDue(5000, 10, 10_000)).toEqual(['ord_a', 'ord_b']);
    expect(await store.claimDue(5000, 10, 10_000)).toEqual([]);
    expect(await store.claimDue(15_000, 10, 10_000)).toEqual(['ord_a', 'ord_b']);
  });
});
