/* eslint-disable @typescript-eslint/no-explicit-any -- GraphQL answers are untyped JSON; the assertions check their shape. */
/**
 * Concurrency and crash safety: 200 orders racing for 5 units, handlers that crash half-way and
 * run again, and notifications read state. A long (120 s) saga deadline so the load cannot
 * trip it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createEvent, deterministicEventId, type AnyEvent } from '@shop/events';
import type { HandlerContext } from '@shop/events/kafka';
import { createChannelPubSub, createServiceMetrics } from '@shop/service-kit';
import { createInventoryProjector, createStockStore } from '@shop/subgraph-inventory';
import { createOrderStore } from '@shop/subgraph-orders';
import { createStockHandler } from '../inventory/src/stock-handler.js';
import { orderKeys } from '../orders/src/keys.js';
import { createOrderSaga, statusChangedEventId } from '../orders/src/order-saga.js';
import { OrderStateCache } from '../orders/src/order-state-cache.js';
import { createSimulatedPaymentProvider } from '../orders/src/payment-provider.js';
import { createPaymentWorker } from '../orders/src/payment-worker.js';
import { placedState, type NewOrder } from '../orders/src/read-model.js';
import { gql, gqlOk, PLACE_ORDER, PRODUCT_QUERY, startTestSystem, waitFor, type TestSystem } from './harness.js';

let sys: TestSystem;
beforeAll(async () => {
  sys = await startTestSystem({ sagaDeadlineMs: 120_000 });
});
afterAll(async () => sys?.close());

/**
 * What the consumer runner gives a handler: its emitted events and after-emit effects are kept here. A
 * delivery whose process dies after the handler's Redis writes and before the batch is published is one
 * whose `emitted` is thrown away.
 */
function delivery(): Pick<HandlerContext, 'emit' | 'afterEmit'> & { emitted: AnyEvent[]; effects: (() => Promise<unknown>)[] } {
  const emitted: AnyEvent[] = [];
  const effects: (() => Promise<unknown>)[] = [];
  return {
    emitted,
    effects,
    emit: (e) => void emitted.push(...(Array.isArray(e) ? (e as readonly AnyEvent[]) : [e as AnyEvent])),
    afterEmit: (effect) => void effects.push(effect),
  };
}

/** A PENDING order of erin's for one `prd_crash`, as placeOrder writes it. */
function pendingOrder(): NewOrder {
  return {
    id: `ord_${randomUUID().replaceAll('-', '')}`,
    customerId: 'erin',
    lines: [{ productId: 'prd_crash', quantity: 1, unitPrice: { amount: 100, currency: 'USD' } }],
    total: { amount: 100, currency: 'USD' },
    paymentToken: 'tok_visa',
    createdAt: new Date().toISOString(),
    deadlineAt: new Date(Date.now() + 600_000).toISOString(),
    idempotencyKey: null,
  };
}

/** A pending order written straight to the read model; its id. */
async function placePendingOrder(store: ReturnType<typeof createOrderStore>): Promise<string> {
  const order = pendingOrder();
  await store.place(order);
  return order.id;
}

/** Two replicas of the saga over one Redis, and a pending order for them; the caller closes `pubsub`. */
async function twoReplicasAndAnOrder() {
  const store = createOrderStore(sys.redis);
  const pubsub = createChannelPubSub({ publisher: new Redis(sys.redisUrl), subscriber: new Redis(sys.redisUrl) });
  const metrics = createServiceMetrics('orders-test');
  const [a, b] = [createOrderSaga({ store, pubsub, logger: sys.logger, metrics }), createOrderSaga({ store, pubsub, logger: sys.logger, metrics })];
  return { store, pubsub, a, b, orderId: await placePendingOrder(store) };
}

describe('concurrency', () => {
  it('200 concurrent orders for 5 units: exactly 5 CONFIRMED, stock never negative', async () => {
    await sys.registerProduct('prd_hot-item', 5, 4200);
    const watcher = new Redis(sys.redisUrl);
    let minAvailable = Infinity;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const v = Number(await watcher.hget('inventory:{stock}:product:prd_hot-item', 'available'));
        minAvailable = Math.min(minAvailable, v);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const started = Date.now();
    const placed = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const as = { sub: `buyer-${i}` };
        const r = await gql(sys.orders.url, PLACE_ORDER, { input: { lines: [{ productId: 'prd_hot-item', quantity: 1 }], paymentToken: 'tok_visa' } }, as);
        expect(r.errors).toBeUndefined();
        return { id: (r.data as any).placeOrder.order.id as string, as };
      }),
    );
    const placedMs = Date.now() - started;
    const statuses = await waitFor(
      'all 200 final',
      async () => {
        const pipeline = sys.redis.pipeline();
        for (const p of placed) pipeline.hget(`orders:{${p.id}}`, 'status');
        const s = ((await pipeline.exec()) ?? []).map(([, v]) => v as string);
        return s.every((x) => ['CONFIRMED', 'REJECTED', 'CANCELLED'].includes(x)) ? s : null;
      },
      100_000,
      100,
    );
    console.log(`200 orders: accepted in ${placedMs} ms, all final after ${Date.now() - started} ms`);
    watching = false;
    await watch;
    watcher.disconnect();
    expect(statuses.filter((s) => s === 'CONFIRMED')).toHaveLength(5);
    expect(statuses.filter((s) => s === 'REJECTED')).toHaveLength(195);
    expect(minAvailable).toBeGreaterThanOrEqual(0);
    await waitFor('sold 5', async () => {
      const s = (await gqlOk(sys.inventory.url, PRODUCT_QUERY, { id: 'prd_hot-item' })).product.stock;
      return s.sold === 5 ? s : null;
    });
    expect((await gqlOk(sys.inventory.url, PRODUCT_QUERY, { id: 'prd_hot-item' })).product.stock).toEqual({ available: 0, reserved: 0, sold: 5 });
  }, 150_000);
});

describe('crash in the middle of a handler, then redelivery', () => {
  it('inventory: the reservation is applied once and StockReserved re-published with the same id', async () => {
    await sys.registerProduct('prd_crash', 5, 100);
    const store = createStockStore(sys.redis);
    const pubsub = createChannelPubSub({ publisher: new Redis(sys.redisUrl), subscriber: new Redis(sys.redisUrl) });
    const handler = createStockHandler({ store, projector: createInventoryProjector({ store }), pubsub, logger: sys.logger });
    const orderId = `ord_${randomUUID().replaceAll('-', '')}`;
    const event = createEvent(
      'OrderPlaced',
      {
        orderId,
        customerId: 'dave',
        lines: [{ productId: 'prd_crash', quantity: 2, unitPrice: { amount: 100, currency: 'USD' } }],
        total: { amount: 200, currency: 'USD' },
        paymentToken: 'tok_visa',
        idempotencyKey: null,
        deadlineAt: new Date(Date.now() + 60_000).toISOString(),
      },
      { key: orderId, correlationId: 'crash-test' },
    );
    // Given the Lua script ran and the process died before its batch was published,
    const lost = delivery();
    await handler.handle(event, lost);
    expect((await store.get('prd_crash'))!.stock).toEqual({ available: 3, reserved: 2, sold: 0 });
    // when the event is delivered again (twice, even),
    const again1 = delivery();
    const again2 = delivery();
    await handler.handle(event, again1);
    await handler.handle(event, again2);
    // then the stock moved once and the same StockReserved goes out each time.
    expect((await store.get('prd_crash'))!.stock).toEqual({ available: 3, reserved: 2, sold: 0 });
    const published = [...again1.emitted, ...again2.emitted];
    expect(published.map((e) => e.type)).toEqual(['StockReserved', 'StockReserved']);
    expect(published[0]!.id).toBe(published[1]!.id);
    expect(published[0]!.id).toBe(lost.emitted[0]!.id);
    expect(published[0]!.id).toBe(deterministicEventId('StockReservation', orderId));

    // Same for a CANCELLED that crashed after releasing: released once.
    const cancelled = createEvent(
      'OrderStatusChanged',
      { orderId, customerId: 'dave', sequence: 3, status: 'CANCELLED', previous: 'INVENTORY_RESERVED', reason: 'test', at: new Date().toISOString() },
      { key: orderId, correlationId: 'crash-test' },
    );
    await handler.handle(cancelled, delivery());
    const redelivered = delivery();
    await handler.handle(cancelled, redelivered);
    expect((await store.get('prd_crash'))!.stock).toEqual({ available: 5, reserved: 0, sold: 0 });
    expect(redelivered.emitted.map((e) => e.type)).toEqual(['StockReleased']);
    // A late OrderPlaced redelivery after the release reserves nothing.
    await handler.handle(event, delivery());
    expect((await store.get('prd_crash'))!.stock).toEqual({ available: 5, reserved: 0, sold: 0 });
    await pubsub.close();
  });

  it('orders: a transition is applied once; the redelivery re-publishes the same OrderStatusChanged', async () => {
    const store = createOrderStore(sys.redis);
    const pubsub = createChannelPubSub({ publisher: new Redis(sys.redisUrl), subscriber: new Redis(sys.redisUrl) });
    const saga = createOrderSaga({ store, pubsub, logger: sys.logger, metrics: createServiceMetrics('orders-test') });
    const orderId = await placePendingOrder(store);
    const reserved = createEvent('StockReserved', { orderId, lines: [{ productId: 'prd_crash', quantity: 1 }] }, { key: orderId, correlationId: 'crash-test' });
    const lost = delivery();
    await saga.handle(reserved, lost);
    const redelivered = delivery();
    await saga.handle(reserved, redelivered);
    const history = await store.history(orderId);
    expect(history.map((h) => h.status)).toEqual(['PENDING', 'INVENTORY_RESERVED']);
    expect(redelivered.emitted.map((e) => e.type)).toEqual(['OrderStatusChanged', 'PaymentAuthorizationRequested']);
    expect(redelivered.emitted.map((e) => e.id)).toEqual(lost.emitted.map((e) => e.id));
    expect(redelivered.emitted[0]!.id).toBe(statusChangedEventId(orderId, 2));
    expect(redelivered.effects).toHaveLength(1); // the change is pushed to subscribers again, once Kafka has it
    // A second StockReserved (another event id) is not allowed from INVENTORY_RESERVED: ignored.
    const again = createEvent('StockReserved', { orderId, lines: [{ productId: 'prd_crash', quantity: 1 }] }, { key: orderId, correlationId: 'crash-test' });
    expect(await saga.handle(again, delivery())).toBe('ignored');
    expect(await store.history(orderId)).toHaveLength(2);
    await pubsub.close();
  });
  it('orders: a payment answered within the reservation step is asked once; the redelivery re-publishes all three changes', async () => {
    const store = createOrderStore(sys.redis);
    const pubsub = createChannelPubSub({ publisher: new Redis(sys.redisUrl), subscriber: new Redis(sys.redisUrl) });
    let asked = 0;
    const simulated = createSimulatedPaymentProvider();
    const payments = createPaymentWorker({
      redis: sys.redis,
      store,
      logger: sys.logger,
      timeoutMs: 500,
      provider: { authorize: (req, signal) => (asked++, simulated.authorize(req, signal)) },
    });
    const saga = createOrderSaga({ store, pubsub, logger: sys.logger, metrics: createServiceMetrics('orders-test'), payments: { ...payments, waitMs: 100 } });
    const orderId = await placePendingOrder(store);
    const reserved = createEvent('StockReserved', { orderId, lines: [{ productId: 'prd_crash', quantity: 1 }] }, { key: orderId, correlationId: 'crash-test' });
    // The process dies after the script stored the changes and before the batch reached Kafka:
    const lost = delivery();
    await saga.handle(reserved, lost);
    expect(lost.emitted.map((e) => e.type)).toEqual(['OrderStatusChanged', 'OrderStatusChanged', 'OrderStatusChanged']);
    const redelivered = delivery();
    await saga.handle(reserved, redelivered);
    expect((await store.history(orderId)).map((h) => h.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED']);
    expect(redelivered.emitted.map((e) => e.id)).toEqual([2, 3, 4].map((n) => statusChangedEventId(orderId, n)));
    expect(redelivered.emitted).toEqual(lost.emitted);
    // The three changes pushed again, and the confirmed order's deadline removed, once Kafka has them.
    expect(redelivered.effects).toHaveLength(4);
    expect(await sys.redis.zscore(orderKeys.deadlines(orderId), orderId)).not.toBeNull();
    await Promise.all(redelivered.effects.map((effect) => effect()));
    expect(await sys.redis.zscore(orderKeys.deadlines(orderId), orderId)).toBeNull();
    // The redelivery took the stored answer: the customer's card was asked once.
    expect(asked).toBe(1);
    await pubsub.close();
  });

  it('orders: a payment answer another replica kept first is the one the order takes', async () => {
    const store = createOrderStore(sys.redis);
    const pubsub = createChannelPubSub({ publisher: new Redis(sys.redisUrl), subscriber: new Redis(sys.redisUrl) });
    const payments = createPaymentWorker({ redis: sys.redis, store, logger: sys.logger, timeoutMs: 500, provider: createSimulatedPaymentProvider() });
    const saga = createOrderSaga({ store, pubsub, logger: sys.logger, metrics: createServiceMetrics('orders-test'), payments: { ...payments, waitMs: 100 } });
    const orderId = await placePendingOrder(store);
    // A replica handling an earlier delivery of the same reservation got a decline and kept it, then died.
    expect(await store.keepPaymentAnswer(orderId, JSON.stringify({ approved: false, reason: 'declined to the other replica' }))).toBeNull();
    const reserved = createEvent('StockReserved', { orderId, lines: [{ productId: 'prd_crash', quantity: 1 }] }, { key: orderId, correlationId: 'answers-test' });
    const d = delivery();
    expect(await saga.handle(reserved, d)).toBe('ok');
    const history = await store.history(orderId);
    expect(history.map((h) => h.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'CANCELLED']);
    expect(history[2]!.reason).toBe('payment declined: declined to the other replica');
    expect(d.emitted.map((e) => e.type)).toEqual(['OrderStatusChanged', 'OrderStatusChanged']);
    await pubsub.close();
  });

  it('orders: a reservation redelivered after the order went on never asks the provider again', async () => {
    const store = createOrderStore(sys.redis);
    const pubsub = createChannelPubSub({ publisher: new Redis(sys.redisUrl), subscriber: new Redis(sys.redisUrl) });
    let asked = 0;
    const simulated = createSimulatedPaymentProvider();
    const provider = { authorize: (req: Parameters<typeof simulated.authorize>[0], signal?: AbortSignal) => (asked++, simulated.authorize(req, signal)) };
    const payments = createPaymentWorker({ redis: sys.redis, store, logger: sys.logger, timeoutMs: 500, provider });
    const metrics = createServiceMetrics('orders-test');
    const orderId = await placePendingOrder(store);
    const meta = { key: orderId, correlationId: 'went-on-test' };
    const reserved = createEvent('StockReserved', { orderId, lines: [{ productId: 'prd_crash', quantity: 1 }] }, meta);
    // Reserved through a saga that leaves payments to the worker, then cancelled before the worker ran.
    await createOrderSaga({ store, pubsub, logger: sys.logger, metrics }).handle(reserved, delivery());
    const saga = createOrderSaga({ store, pubsub, logger: sys.logger, metrics, payments: { ...payments, waitMs: 100 } });
    await saga.handle(createEvent('OrderCancellationRequested', { orderId, requestedBy: 'erin', reason: 'changed my mind' }, meta), delivery());
    const redelivered = delivery();
    expect(await saga.handle(reserved, redelivered)).toBe('ok');
    expect(asked).toBe(0);
    expect(await store.paymentAnswer(orderId)).toBeNull();
    expect(redelivered.emitted.map((e) => e.type)).toEqual(['OrderStatusChanged', 'PaymentAuthorizationRequested']);
    expect((await store.history(orderId)).map((h) => h.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'CANCELLED']);
    await pubsub.close();
  });

  it('orders: a replica deciding on a state it remembers from placeOrder still publishes every change again after another replica\'s crash', async () => {
    const store = createOrderStore(sys.redis);
    const pubsub = createChannelPubSub({ publisher: new Redis(sys.redisUrl), subscriber: new Redis(sys.redisUrl) });
    const metrics = createServiceMetrics('orders-test');
    const order = pendingOrder();
    await store.place(order);
    // Replica b placed the order and remembers it PENDING; replica a ran the step, kept the answer and died before publishing.
    const remembered = new OrderStateCache();
    remembered.set(placedState(order));
    const fast = createPaymentWorker({ redis: sys.redis, store, logger: sys.logger, timeoutMs: 500, provider: createSimulatedPaymentProvider() });
    const reserved = createEvent('StockReserved', { orderId: order.id, lines: [{ productId: 'prd_crash', quantity: 1 }] }, { key: order.id, correlationId: 'stale-memory-test' });
    const lost = delivery();
    await createOrderSaga({ store, pubsub, logger: sys.logger, metrics, payments: { ...fast, waitMs: 100 } }).handle(reserved, lost);
    // b's provider does not answer in time: its decision on PENDING is refused, and it decides again on what a stored.
    const silent = createPaymentWorker({ redis: sys.redis, store, logger: sys.logger, timeoutMs: 500, provider: { authorize: () => new Promise(() => undefined) } });
    const b = createOrderSaga({ store, pubsub, logger: sys.logger, metrics, states: remembered, payments: { ...silent, waitMs: 50 } });
    const redelivered = delivery();
    expect(await b.handle(reserved, redelivered)).toBe('ok');
    expect(redelivered.emitted.map((e) => e.id)).toEqual([2, 3, 4].map((n) => statusChangedEventId(order.id, n)));
    expect(redelivered.emitted).toEqual(lost.emitted);
    await pubsub.close();
  });

  it('orders: a replica deciding on a change another replica stored but had not published yet publishes that change first', async () => {
    const { store, pubsub, a, b, orderId } = await twoReplicasAndAnOrder();
    const meta = { key: orderId, correlationId: 'unpublished-test' };
    // Replica a stores INVENTORY_RESERVED, then stalls before its batch reaches Kafka; b takes a cancellation
    // from another partition meanwhile.
    const stalled = delivery();
    await a.handle(createEvent('StockReserved', { orderId, lines: [{ productId: 'prd_crash', quantity: 1 }] }, meta), stalled);
    const cancelled = delivery();
    expect(await b.handle(createEvent('OrderCancellationRequested', { orderId, requestedBy: 'erin', reason: 'changed my mind' }, meta), cancelled)).toBe('ok');
    // b's batch carries change 2 (a's, same id) before its own change 3: the log never has 3 without 2 before it.
    const changes = (d: ReturnType<typeof delivery>) => d.emitted.flatMap((e) => (e.type === 'OrderStatusChanged' ? [[e.id, e.payload.sequence, e.payload.status]] : []));
    expect(changes(cancelled)).toEqual([
      [statusChangedEventId(orderId, 2), 2, 'INVENTORY_RESERVED'],
      [statusChangedEventId(orderId, 3), 3, 'CANCELLED'],
    ]);
    expect(changes(stalled)[0]).toEqual(changes(cancelled)[0]);
    // Both changes are pushed, in order; subscribers drop a's late push of 2 by its sequence.
    expect(cancelled.effects.length).toBeGreaterThanOrEqual(2);
    expect((await store.history(orderId)).map((h) => h.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'CANCELLED']);
    await pubsub.close();
  });

  it('orders: a state one replica remembers is never trusted past another replica\'s write', async () => {
    const { store, pubsub, a, b, orderId } = await twoReplicasAndAnOrder();
    const meta = { key: orderId, correlationId: 'replicas-test' };
    // Replica a reserves (and remembers INVENTORY_RESERVED); replica b cancels behind its back.
    await a.handle(createEvent('StockReserved', { orderId, lines: [{ productId: 'prd_crash', quantity: 1 }] }, meta), delivery());
    await b.handle(createEvent('OrderCancellationRequested', { orderId, requestedBy: 'erin', reason: 'changed my mind' }, meta), delivery());
    // The payment reaches a, whose memory still says INVENTORY_RESERVED: the write is refused and the decision made again.
    const paid = delivery();
    expect(await a.handle(createEvent('PaymentAuthorized', { orderId, authorizationId: 'auth_1' }, meta), paid)).toBe('ignored');
    expect(paid.emitted).toEqual([]);
    expect((await store.history(orderId)).map((h) => h.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'CANCELLED']);
    await pubsub.close();
  });
});

describe('notifications', () => {
  it('markNotificationRead: own only (another\'s answers as a missing one), idempotent, unread count follows', async () => {
    await sys.registerProduct('prd_note', 10, 100);
    const frank = { sub: 'frank' };
    const r = await gqlOk(sys.orders.url, PLACE_ORDER, { input: { lines: [{ productId: 'prd_note', quantity: 1 }], paymentToken: 'tok_declined' } }, frank);
    const list = await waitFor('notification', async () => {
      const d = await gqlOk(sys.notifications.url, '{ myNotifications(unreadOnly: true) { edges { node { id orderId kind read } } } unreadNotificationCount }', {}, frank);
      return d.myNotifications.edges.length ? d : null;
    });
    const note = list.myNotifications.edges[0].node;
    expect(note).toMatchObject({ orderId: r.placeOrder.order.id, kind: 'ORDER_CANCELLED', read: false });
    expect(list.unreadNotificationCount).toBe(1);
    const mark = 'mutation($id: ID!) { markNotificationRead(id: $id) { id read } }';
    // Someone else's notification answers as a missing one.
    const byMallory = await gql(sys.notifications.url, mark, { id: note.id }, { sub: 'mallory' });
    expect(byMallory.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(byMallory.errors?.[0]?.message).toBe(`Notification ${note.id} does not exist.`);
    expect((await gql(sys.notifications.url, mark, { id: 'ntf_x' }, frank)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await gqlOk(sys.notifications.url, mark, { id: note.id }, frank)).markNotificationRead).toEqual({ id: note.id, read: true });
    expect((await gqlOk(sys.notifications.url, mark, { id: note.id }, frank)).markNotificationRead).toEqual({ id: note.id, read: true });
    const after = await gqlOk(sys.notifications.url, '{ myNotifications { edges { node { read } } } unreadNotificationCount u: myNotifications(unreadOnly: true) { edges { cursor } } }', {}, frank);
    expect(after.unreadNotificationCount).toBe(0);
    expect(after.u.edges).toHaveLength(0);
    expect(after.myNotifications.edges[0].node.read).toBe(true);
  });
});
