// Who sees an order, checked on the resolvers themselves with an in-memory store: another
// customer's order must look exactly like a missing one, on every path that reaches an order.
import { describe, expect, it } from 'vitest';
import type { Identity } from '@shop/service-kit';
import { createOrdersResolvers, type OrdersContext } from '../src/resolvers.js';
import type { OrderRecord, OrderStore, StatusChange } from '../src/read-model.js';

const ALICE_ORDER = 'ord_alice0000000000000000001';
const MISSING = 'ord_missing000000000000000001';

const order: OrderRecord = {
  id: ALICE_ORDER,
  customerId: 'alice',
  status: 'PENDING',
  lines: [],
  total: { amount: 100, currency: 'USD' },
  paymentToken: 'tok_visa',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  sequence: 1,
  deadlineAt: '2026-01-01T00:00:30.000Z',
  idempotencyKey: null,
};
const change: StatusChange = { orderId: ALICE_ORDER, sequence: 1, status: 'PENDING', previous: null, reason: null, at: order.createdAt };
const changeOfMissing: StatusChange = { ...change, orderId: MISSING };

const orders = new Map([[ALICE_ORDER, order]]);
const store = { get: async (id: string) => orders.get(id) ?? null, history: async (id: string) => (orders.has(id) ? [change] : []) } as unknown as OrderStore;
/** Live subscriptions the resolvers hold (orderStatusChanged subscribes before it reads the order). */
const live = new Set<number>();
let nextSubscription = 0;
const pubsub = {
  subscribe: async () => {
    live.add(nextSubscription);
    return nextSubscription++;
  },
  unsubscribe: (id: number) => void live.delete(id),
};
const resolvers = createOrdersResolvers({ store, pubsub } as unknown as Parameters<typeof createOrdersResolvers>[0]);

function ctx(identity: Identity | null): OrdersContext {
  return {
    identity,
    viaGateway: true,
    correlationId: 'test',
    loaders: { order: { load: async (id: string) => orders.get(id) ?? null } } as unknown as OrdersContext['loaders'],
  };
}
const alice = ctx({ sub: 'alice', roles: [] });
const bob = ctx({ sub: 'bob', roles: [] });
const admin = ctx({ sub: 'root', roles: ['admin'] });

/** What a call answers: its value, or its error's code and message (with the order id made neutral). */
async function answer(call: () => unknown, id?: string): Promise<unknown> {
  try {
    return { value: await call() };
  } catch (err) {
    const e = err as { message: string; extensions?: { code?: unknown } };
    return { code: e.extensions?.code, message: id ? e.message.replaceAll(id, '<id>') : e.message };
  }
}

describe("another customer's order looks exactly like a missing one", () => {
  it('order(id): null for both', async () => {
    expect(await answer(() => resolvers.Query.order(undefined, { id: ALICE_ORDER }, bob))).toEqual({ value: null });
    expect(await answer(() => resolvers.Query.order(undefined, { id: MISSING }, bob))).toEqual({ value: null });
    expect(await answer(() => resolvers.Query.order(undefined, { id: ALICE_ORDER }, alice))).toEqual({ value: order });
    expect(await answer(() => resolvers.Query.order(undefined, { id: ALICE_ORDER }, admin))).toEqual({ value: order });
  });

  it('an entity reference: null for both', async () => {
    expect(await resolvers.Order.__resolveReference({ id: ALICE_ORDER }, bob)).toBeNull();
    expect(await resolvers.Order.__resolveReference({ id: MISSING }, bob)).toBeNull();
    expect(await resolvers.Order.__resolveReference({ id: ALICE_ORDER }, alice)).toBe(order);
  });

  it('cancelOrder and orderStatusChanged: the same NOT_FOUND, same message', async () => {
    const cancel = (id: string) => answer(() => resolvers.Mutation.cancelOrder(undefined, { id }, bob), id);
    expect(await cancel(ALICE_ORDER)).toEqual({ code: 'NOT_FOUND', message: 'Order <id> does not exist.' });
    expect(await cancel(ALICE_ORDER)).toEqual(await cancel(MISSING));
    const watch = (id: string) => answer(() => resolvers.Subscription.orderStatusChanged.subscribe(undefined, { orderId: id }, bob), id);
    expect(await watch(ALICE_ORDER)).toEqual({ code: 'NOT_FOUND', message: 'Order <id> does not exist.' });
    expect(await watch(ALICE_ORDER)).toEqual(await watch(MISSING));
    // A refused subscription keeps no channel.
    expect(live.size).toBe(0);
    // The owner's is live until the stream ends, even one ended before its first item.
    const own = (await resolvers.Subscription.orderStatusChanged.subscribe(undefined, { orderId: ALICE_ORDER }, alice)) as AsyncIterableIterator<StatusChange>;
    expect(live.size).toBe(1);
    await own.return!();
    expect(live.size).toBe(0);
  });

  it('OrderStatusChange.order is owner-checked on its own', async () => {
    const of = (c: StatusChange, who: OrdersContext) => answer(() => resolvers.OrderStatusChange.order(c, undefined, who), c.orderId);
    expect(await of(change, bob)).toEqual({ code: 'NOT_FOUND', message: 'Order <id> does not exist.' });
    expect(await of(change, bob)).toEqual(await of(changeOfMissing, bob));
    expect(await of(change, ctx(null))).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await of(change, alice)).toEqual({ value: order });
    expect(await of(change, admin)).toEqual({ value: order });
  });
});
