/* eslint-disable @typescript-eslint/no-explicit-any -- GraphQL answers are untyped JSON; the assertions check their shape. */
/** The orders Lua scripts against a real redis-server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../../test/redis-server.js';
import { createOrderStore, placedState, type NewOrder } from '../src/read-model.js';
import { deadlineShard, orderKeys } from '../src/keys.js';

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
  it('place is idempotent and writes history entry 1, the indexes and the deadline; the saga state placeOrder remembers is the one it would read', async () => {
    const o = newOrder();
    expect(await store.place(o)).toBe(true);
    expect(await store.loadState(o.id)).toEqual(placedState(o));
    expect(await store.place({ ...o, paymentToken: 'tok_other' })).toBe(false);
    const rec = await store.get(o.id);
    expect(rec).toMatchObject({ id: o.id, status: 'PENDING', sequence: 1, paymentToken: 'tok_visa' });
    expect(await store.history(o.id)).toEqual([{ orderId: o.id, sequence: 1, status: 'PENDING', previous: null, reason: null, at: o.createdAt }]);
    expect(await redis.zscore(orderKeys.deadlines(o.id), o.id)).toBe(String(Date.parse(o.deadlineAt)));
    expect(await store.page('alice', null, 10)).toContain(`${String(Date.parse(o.createdAt)).padStart(15, '0')}:${o.id}`);
  });

  const change = (orderId: string, sequence: number, status: any, previous: any, reason: string | null = null) => ({ orderId, sequence, status, previous, reason, at });

  it('applyChanges stores decided changes only on the sequence they were decided on, and leaves the deadline to the saga', async () => {
    const o = newOrder();
    await store.place(o);
    expect(await store.applyChanges(o.id, 1, [change(o.id, 2, 'INVENTORY_RESERVED', 'PENDING')], ['e1:INVENTORY_RESERVED'])).toBe('stored');
    // Decided on sequence 1 again (a racing replica): refused, nothing written.
    expect(await store.applyChanges(o.id, 1, [change(o.id, 2, 'REJECTED', 'PENDING')], ['e2:REJECTED'])).toBe('conflict');
    // Decided on the right sequence but another status (a remembered state gone stale): refused too.
    expect(await store.applyChanges(o.id, 2, [change(o.id, 3, 'CANCELLED', 'PENDING')], ['e4:CANCELLED'])).toBe('conflict');
    expect(
      await store.applyChanges(o.id, 2, [change(o.id, 3, 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED'), change(o.id, 4, 'CANCELLED', 'PAYMENT_AUTHORIZED', 'a "quoted" / reason')], ['e3:PAYMENT_AUTHORIZED', 'e3:CANCELLED']),
    ).toBe('stored');
    // The saga removes it once Kafka has the final change (a crash before leaves it to the projector).
    expect(await redis.zscore(orderKeys.deadlines(o.id), o.id)).toBe(String(Date.parse(o.deadlineAt)));
    await store.removeDeadline(o.id);
    expect(await redis.zscore(orderKeys.deadlines(o.id), o.id)).toBeNull();
    expect(await store.applyChanges('ord_missing000000000000000', 1, [change('ord_missing000000000000000', 2, 'CANCELLED', 'PENDING')], ['x:CANCELLED'])).toBe('missing');
    const state = await store.loadState(o.id);
    expect(state).toMatchObject({ id: o.id, customerId: 'alice', status: 'CANCELLED', sequence: 4, paymentToken: 'tok_visa', total: o.total });
    expect(state!.history.map((h) => h.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CANCELLED']);
    expect([...state!.causes]).toEqual([['e1:INVENTORY_RESERVED', 2], ['e3:PAYMENT_AUTHORIZED', 3], ['e3:CANCELLED', 4]]);
    expect(state!.history[3]!.reason).toBe('a "quoted" / reason');
    // The stored entries are exactly what JSON.stringify makes (the projector's format).
    const raw = await redis.lrange(orderKeys.history(o.id), 0, -1);
    expect(raw.map((r) => JSON.stringify(JSON.parse(r)))).toEqual(raw);
    expect(await store.loadState('ord_missing000000000000000')).toBeNull();
  });

  it('applyChanges keeps the payment answer its decision used, first; another answer kept earlier refuses the whole write', async () => {
    const approved = JSON.stringify({ approved: true, authorizationId: 'auth_1' });
    const declined = JSON.stringify({ approved: false, reason: 'declined elsewhere' });
    const reserved = () => [change(o.id, 2, 'INVENTORY_RESERVED', 'PENDING'), change(o.id, 3, 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED')];
    const causes = ['s:INVENTORY_RESERVED', 'p:PAYMENT_AUTHORIZED'];
    const o = newOrder();
    await store.place(o);
    // Decided on a stale sequence: the changes are refused, the answer is kept all the same.
    expect(await store.applyChanges(o.id, 2, reserved(), causes, approved)).toBe('conflict');
    expect(await store.paymentAnswer(o.id)).toBe(approved);
    // The same answer again: stored.
    expect(await store.applyChanges(o.id, 1, reserved(), causes, approved)).toBe('stored');
    expect(await redis.ttl(orderKeys.payment(o.id))).toBeGreaterThan(24 * 3600);

    const other = newOrder();
    await store.place(other);
    expect(await store.keepPaymentAnswer(other.id, declined)).toBeNull();
    expect(await store.keepPaymentAnswer(other.id, approved)).toBe(declined);
    const otherChanges = [change(other.id, 2, 'INVENTORY_RESERVED', 'PENDING'), change(other.id, 3, 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED')];
    expect(await store.applyChanges(other.id, 1, otherChanges, causes, approved)).toBe('other-answer');
    expect((await store.loadState(other.id))!.history.map((h) => h.status)).toEqual(['PENDING']);
    expect(await store.paymentAnswer(other.id)).toBe(declined);
  });

  it('concurrent writers of one order: one wins, sequences stay gapless', async () => {
    const o = newOrder();
    await store.place(o);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.applyChanges(o.id, 1, [change(o.id, 2, 'CANCELLED', 'PENDING')], [`c${i}:CANCELLED`])),
    );
    expect(results.filter((r) => r === 'stored')).toHaveLength(1);
    expect((await store.history(o.id)).map((h) => h.sequence)).toEqual([1, 2]);
  });

  it('projectChange applies only the next sequence (rebuild), older ones are no-ops, gaps are reported', async () => {
    const o = newOrder();
    await store.place(o);
    expect(await store.projectChange(change(o.id, 3, 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED'), null)).toBe(-2);
    expect(await store.projectChange(change(o.id, 2, 'INVENTORY_RESERVED', 'PENDING'), 'e1:INVENTORY_RESERVED')).toBe(1);
    expect(await store.projectChange(change(o.id, 2, 'INVENTORY_RESERVED', 'PENDING'), 'e1:INVENTORY_RESERVED')).toBe(0);
    expect(await store.projectChange({ ...change(o.id, 2, 'X', 'Y'), orderId: 'ord_missing000000000000000' } as any, null)).toBe(-1);
    // The saga sees the projected cause as applied.
    expect((await store.loadState(o.id))!.causes.get('e1:INVENTORY_RESERVED')).toBe(2);
    // A final change removes the deadline even while an earlier change is missing here (a gap): the log has it.
    expect(await redis.zscore(orderKeys.deadlines(o.id), o.id)).toBe(String(Date.parse(o.deadlineAt)));
    expect(await store.projectChange(change(o.id, 4, 'CONFIRMED', 'PAYMENT_AUTHORIZED'), 'e3:CONFIRMED')).toBe(-2);
    expect(await redis.zscore(orderKeys.deadlines(o.id), o.id)).toBeNull();
  });

  it('claimDue hides claimed orders from other replicas until reclaimAfter, across every deadline shard', async () => {
    await redis.del(...orderKeys.deadlineShards());
    const ids = ['ord_a', 'ord_b', 'ord_c', 'ord_d', 'ord_e'];
    // The ids spread over more than one shard, so the claim has to look at each.
    expect(new Set(ids.map(deadlineShard)).size).toBeGreaterThan(1);
    for (const [i, id] of ids.entries()) await redis.zadd(orderKeys.deadlines(id), id === 'ord_c' ? 99_999 : 1000 + i, id);
    const due = ['ord_a', 'ord_b', 'ord_d', 'ord_e'];
    expect((await store.claimDue(5000, 10, 10_000)).sort()).toEqual(due);
    expect(await store.claimDue(5000, 10, 10_000)).toEqual([]);
    expect((await store.claimDue(15_000, 10, 10_000)).sort()).toEqual(due);
  });

  it('place again repairs the indexes and the deadline a crash after the order script left out, but gives a final order no deadline', async () => {
    const o = newOrder();
    await store.place(o);
    await redis.del(orderKeys.byCustomer('alice'), orderKeys.all);
    await redis.zrem(orderKeys.deadlines(o.id), o.id);
    expect(await store.place(o)).toBe(false);
    const member = `${String(Date.parse(o.createdAt)).padStart(15, '0')}:${o.id}`;
    expect(await store.page('alice', null, 10)).toContain(member);
    expect(await store.page(null, null, 10)).toContain(member);
    expect(await redis.zscore(orderKeys.deadlines(o.id), o.id)).toBe(String(Date.parse(o.deadlineAt)));
    expect(await store.applyChanges(o.id, 1, [change(o.id, 2, 'CANCELLED', 'PENDING')], ['c:CANCELLED'])).toBe('stored');
    await store.removeDeadline(o.id);
    expect(await store.place(o)).toBe(false);
    expect(await redis.zscore(orderKeys.deadlines(o.id), o.id)).toBeNull();
  });
});
