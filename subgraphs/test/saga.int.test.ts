/* eslint-disable @typescript-eslint/no-explicit-any -- GraphQL answers are untyped JSON; the assertions check their shape. */
/**
 * The order saga across the three subgraphs, on a real redis-server and the embedded broker, with
 * GraphQL over real HTTP / graphql-ws. A short saga deadline (4 s: short, yet long enough for a busy CI machine) so tok_timeout is quick; the
 * read-model rebuild runs last, over everything the other tests produced.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createEvent, deadLetterTopic, TOPICS } from '@shop/events';
import { rebuildReadModels } from '../../scripts/rebuild-read-models.js';
import { orderKeys } from '../orders/src/keys.js';
import { createSimulatedPaymentProvider, type PaymentProvider } from '../orders/src/payment-provider.js';
import {
  gql,
  gqlOk,
  identityHeader,
  ORDER_QUERY,
  PLACE_ORDER,
  PRODUCT_QUERY,
  startTestSystem,
  waitFor,
  waitForOrder,
  wsClient,
  type TestSystem,
} from './harness.js';

const SAGA_DEADLINE_MS = 4_000;
const alice = { sub: 'alice' };
const bob = { sub: 'bob' };
const admin = { sub: 'root', roles: ['admin'] };
const isFinal = (s: string) => ['CONFIRMED', 'REJECTED', 'CANCELLED'].includes(s);

let sys: TestSystem;
let confirmedOrderId: string;

/**
 * The simulated provider, counting how often each order is asked, and slow for one customer: 250 ms, past the
 * saga's own wait (PAYMENT_INLINE_WAIT_MS, 100 ms by default) and within the payment worker's (500 ms here).
 */
const slowPayer = { sub: 'slow-payer' };
const asked = new Map<string, number>();
const simulated = createSimulatedPaymentProvider();
const provider: PaymentProvider = {
  async authorize(req, signal) {
    asked.set(req.orderId, (asked.get(req.orderId) ?? 0) + 1);
    if (req.customerId === slowPayer.sub) await sleep(250, undefined, { signal });
    return simulated.authorize(req, signal);
  },
};

/** How many payment requests the payment worker has answered (its consumer group's handled count). */
async function workerAnswers(): Promise<number> {
  const metrics = await (await fetch(sys.orders.url.replace('/graphql', '/metrics'))).text();
  return metrics
    .split('\n')
    .filter((l) => l.startsWith('shop_events_handled_total{') && ['group="orders-payments"', 'type="PaymentAuthorizationRequested"', 'outcome="ok"'].every((label) => l.includes(label)))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

beforeAll(async () => {
  sys = await startTestSystem({ sagaDeadlineMs: SAGA_DEADLINE_MS, paymentTimeoutMs: 500, orders: { paymentProvider: provider } });
  await Promise.all([
    sys.registerProduct('prd_happy', 10, 1250),
    sys.registerProduct('prd_scarce', 3, 500),
    sys.registerProduct('prd_declined', 10, 700),
    sys.registerProduct('prd_timeout', 10, 900),
    sys.registerProduct('prd_cancel', 10, 300),
    sys.registerProduct('prd_idem', 10, 100),
    sys.registerProduct('prd_misc', 100, 100),
    sys.registerProduct('prd_slowpay', 10, 100),
  ]);
});
afterAll(async () => sys?.close());

async function place(as: { sub: string; roles?: string[] }, lines: { productId: string; quantity: number }[], paymentToken = 'tok_visa', idempotencyKey?: string) {
  return gql(sys.orders.url, PLACE_ORDER, { input: { lines, paymentToken, ...(idempotencyKey ? { idempotencyKey } : {}) } }, as);
}
async function placeOk(as: { sub: string; roles?: string[] }, lines: { productId: string; quantity: number }[], paymentToken = 'tok_visa', idempotencyKey?: string) {
  const r = await place(as, lines, paymentToken, idempotencyKey);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return (r.data as any).placeOrder.order;
}
async function stock(productId: string) {
  return (await gqlOk(sys.inventory.url, PRODUCT_QUERY, { id: productId })).product.stock as { available: number; reserved: number; sold: number };
}
const codes = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.map((e) => e.extensions?.code);

describe('saga', () => {
  it('happy path: PENDING → INVENTORY_RESERVED → PAYMENT_AUTHORIZED → CONFIRMED, stock sold, customer notified', async () => {
    const answeredByWorker = await workerAnswers();
    const placed = await placeOk(alice, [{ productId: 'prd_happy', quantity: 2 }]);
    expect(placed).toMatchObject({ status: 'PENDING', customerId: 'alice', total: { amount: 2500, currency: 'USD' } });
    expect(placed.id).toMatch(/^ord_[A-Za-z0-9_-]{20,}$/);
    expect(placed.lines).toEqual([{ product: { id: 'prd_happy' }, quantity: 2, unitPrice: { amount: 1250, currency: 'USD' } }]);
    expect(placed.history).toEqual([{ orderId: placed.id, sequence: 1, status: 'PENDING', previous: null, reason: null, at: placed.createdAt }]);

    const order = await waitForOrder(sys.orders.url, placed.id, alice, (s) => s === 'CONFIRMED');
    confirmedOrderId = order.id;
    expect(order.history.map((h: any) => [h.sequence, h.status, h.previous])).toEqual([
      [1, 'PENDING', null],
      [2, 'INVENTORY_RESERVED', 'PENDING'],
      [3, 'PAYMENT_AUTHORIZED', 'INVENTORY_RESERVED'],
      [4, 'CONFIRMED', 'PAYMENT_AUTHORIZED'],
    ]);
    expect(order.updatedAt).toBe(order.history[3].at);
    // A final order has no saga deadline left (the saga removes it beside its batch's last writes).
    await waitFor('the deadline removed', async () => (await sys.redis.zscore(orderKeys.deadlines(placed.id), placed.id)) === null);
    // The provider answered within the saga's step: asked once, and the payment worker had nothing to do.
    expect(asked.get(placed.id)).toBe(1);
    expect(await workerAnswers()).toBe(answeredByWorker);
    await waitFor('stock committed', async () => {
      const s = await stock('prd_happy');
      return s.available === 8 && s.reserved === 0 && s.sold === 2;
    });

    const notes = await waitFor('notification', async () => {
      const d = await gqlOk(sys.notifications.url, '{ myNotifications { edges { node { id orderId kind message read } } } unreadNotificationCount }', {}, alice);
      return d.myNotifications.edges.length ? d : null;
    });
    expect(notes.myNotifications.edges[0].node).toMatchObject({ orderId: order.id, kind: 'ORDER_CONFIRMED', read: false });
    expect(notes.unreadNotificationCount).toBe(1);
    // Order.notifications, the way the gateway asks for it.
    const entities = await gqlOk(
      sys.notifications.url,
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id notifications { kind orderId } } } }',
      { r: [{ __typename: 'Order', id: order.id }] },
      alice,
    );
    expect(entities._entities[0].notifications).toEqual([{ kind: 'ORDER_CONFIRMED', orderId: order.id }]);
    const mine = await gqlOk(sys.orders.url, '{ myOrders(first: 5) { edges { cursor node { id status } } pageInfo { hasNextPage endCursor } } }', {}, alice);
    expect(mine.myOrders.edges.map((e: any) => e.node.id)).toContain(order.id);
  });

  it('a provider slower than the saga\'s wait: the payment worker asks again and answers, the order is confirmed all the same', async () => {
    const answeredByWorker = await workerAnswers();
    const placed = await placeOk(slowPayer, [{ productId: 'prd_slowpay', quantity: 1 }]);
    const order = await waitForOrder(sys.orders.url, placed.id, slowPayer, isFinal);
    expect(order.history.map((h: any) => [h.sequence, h.status])).toEqual([
      [1, 'PENDING'],
      [2, 'INVENTORY_RESERVED'],
      [3, 'PAYMENT_AUTHORIZED'],
      [4, 'CONFIRMED'],
    ]);
    // Once by the saga (given up after its wait), once by the worker.
    expect(asked.get(placed.id)).toBe(2);
    expect(await workerAnswers()).toBe(answeredByWorker + 1);
  });

  it('not enough stock → REJECTED with the line in the reason, stock unchanged', async () => {
    const placed = await placeOk(bob, [
      { productId: 'prd_misc', quantity: 1 },
      { productId: 'prd_scarce', quantity: 5 },
    ]);
    const order = await waitForOrder(sys.orders.url, placed.id, bob, isFinal);
    expect(order.status).toBe('REJECTED');
    expect(order.history.map((h: any) => h.status)).toEqual(['PENDING', 'REJECTED']);
    expect(order.history[1].reason).toMatch(/line 2 \(prd_scarce\): not enough stock, 5 requested, 3 available/);
    expect(await stock('prd_scarce')).toEqual({ available: 3, reserved: 0, sold: 0 });
    expect(await stock('prd_misc')).toEqual({ available: 100, reserved: 0, sold: 0 });
  });

  it('tok_declined → CANCELLED and the reserved stock is released', async () => {
    const placed = await placeOk(alice, [{ productId: 'prd_declined', quantity: 3 }], 'tok_declined');
    const order = await waitForOrder(sys.orders.url, placed.id, alice, isFinal);
    expect(order.history.map((h: any) => h.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'CANCELLED']);
    expect(order.history[2].reason).toMatch(/payment declined/);
    await waitFor('stock released', async () => {
      const s = await stock('prd_declined');
      return s.available === 10 && s.reserved === 0 && s.sold === 0;
    });
  });

  it('tok_timeout → CANCELLED by the saga deadline, stock released', async () => {
    const started = Date.now();
    const placed = await placeOk(alice, [{ productId: 'prd_timeout', quantity: 4 }], 'tok_timeout');
    await waitFor('reserved', async () => (await stock('prd_timeout')).reserved === 4);
    const order = await waitForOrder(sys.orders.url, placed.id, alice, isFinal, SAGA_DEADLINE_MS + 10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(SAGA_DEADLINE_MS - 200);
    expect(order.history.map((h: any) => h.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'CANCELLED']);
    expect(order.history[2].reason).toBe('saga deadline exceeded');
    await waitFor('stock released', async () => {
      const s = await stock('prd_timeout');
      return s.available === 10 && s.reserved === 0;
    });
  });

  it('cancelOrder cancels an order in progress and releases its stock; others may not', async () => {
    const placed = await placeOk(alice, [{ productId: 'prd_cancel', quantity: 5 }], 'tok_timeout');
    await waitForOrder(sys.orders.url, placed.id, alice, (s) => s === 'INVENTORY_RESERVED');
    const cancelBy = (as: { sub: string; roles?: string[] }, id = placed.id) =>
      gql(sys.orders.url, 'mutation($id: ID!) { cancelOrder(id: $id) { id status history { sequence status reason } } }', { id }, as);
    // Another customer's order answers exactly as a missing one.
    const byBob = await cancelBy(bob);
    const missing = await cancelBy(alice, 'ord_doesnotexist0000000000');
    expect(codes(byBob)).toEqual(['NOT_FOUND']);
    expect(byBob.errors![0]!.message).toBe(missing.errors![0]!.message.replace('ord_doesnotexist0000000000', placed.id));
    expect(codes(await cancelBy(alice, 'nope'))).toEqual(['BAD_USER_INPUT']);
    const r = await cancelBy(alice);
    expect(r.errors).toBeUndefined();
    expect((r.data as any).cancelOrder).toMatchObject({ status: 'CANCELLED' });
    expect((r.data as any).cancelOrder.history.at(-1)).toEqual({ sequence: 3, status: 'CANCELLED', reason: 'cancelled by the customer' });
    await waitFor('stock released', async () => (await stock('prd_cancel')).available === 10);
    // Cancelling again, or cancelling a confirmed order: CONFLICT.
    expect(codes(await cancelBy(alice))).toEqual(['CONFLICT']);
    expect(codes(await cancelBy(alice, confirmedOrderId))).toEqual(['CONFLICT']);
  });

  it('the same idempotency key returns the same order, never a second one', async () => {
    const key = `key-${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 5 }, () => placeOk(bob, [{ productId: 'prd_idem', quantity: 1 }], 'tok_visa', key)));
    const ids = new Set(results.map((o) => o.id));
    expect(ids.size).toBe(1);
    const again = await placeOk(bob, [{ productId: 'prd_idem', quantity: 1 }], 'tok_visa', key);
    expect(again.id).toBe(results[0].id);
    const other = await placeOk(alice, [{ productId: 'prd_idem', quantity: 1 }], 'tok_visa', key);
    expect(other.id).not.toBe(again.id);
    await waitForOrder(sys.orders.url, again.id, bob, isFinal);
    await waitForOrder(sys.orders.url, other.id, alice, isFinal);
    await waitFor('two units sold', async () => {
      const s = await stock('prd_idem');
      return s.sold === 2 && s.available === 8 ? s : null;
    });
    const mine = await gqlOk(sys.orders.url, '{ myOrders(first: 50) { edges { node { id } } } }', {}, bob);
    expect(mine.myOrders.edges.filter((e: any) => e.node.id === again.id)).toHaveLength(1);
  });

  it('orderStatusChanged replays history after `after`, then streams live, no gap, no duplicate', async () => {
    // Replay of a finished order from sequence 2.
    const client = wsClient(sys.orders.url, alice);
    try {
      const seen: number[] = [];
      const it1 = client.iterate<any>({ query: 'subscription($id: ID!, $after: Int) { orderStatusChanged(orderId: $id, after: $after) { sequence status previous order { id status } } }', variables: { id: confirmedOrderId, after: 2 } });
      for await (const r of it1) {
        expect(r.errors).toBeUndefined();
        seen.push(r.data.orderStatusChanged.sequence);
        expect(r.data.orderStatusChanged.order).toEqual({ id: confirmedOrderId, status: 'CONFIRMED' });
        if (seen.length === 2) break;
      }
      expect(seen).toEqual([3, 4]);

      // Live: subscribe to a fresh order right away and see every change exactly once, in order.
      const placed = await placeOk(alice, [{ productId: 'prd_misc', quantity: 1 }]);
      const live: string[] = [];
      const it2 = client.iterate<any>({ query: 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { sequence status } }', variables: { id: placed.id } });
      for await (const r of it2) {
        expect(r.errors).toBeUndefined();
        live.push(`${r.data.orderStatusChanged.sequence}:${r.data.orderStatusChanged.status}`);
        if (isFinal(r.data.orderStatusChanged.status)) break;
      }
      expect(live).toEqual(['1:PENDING', '2:INVENTORY_RESERVED', '3:PAYMENT_AUTHORIZED', '4:CONFIRMED']);

      // Resume after the last one seen: nothing more (the order is final), and no duplicate arrives.
      const it3 = client.iterate<any>({ query: 'subscription($id: ID!, $after: Int) { orderStatusChanged(orderId: $id, after: $after) { sequence } }', variables: { id: placed.id, after: 4 } });
      const extra = await Promise.race([it3.next().then(() => 'got one'), sleep(400).then(() => 'nothing')]);
      expect(extra).toBe('nothing');
      await it3.return?.();
    } finally {
      await client.dispose();
    }

    // Another customer: NOT_FOUND, as for a missing order; nobody: UNAUTHENTICATED.
    for (const [who, code] of [[bob, 'NOT_FOUND'], [undefined, 'UNAUTHENTICATED']] as const) {
      const c = wsClient(sys.orders.url, who);
      try {
        const it = c.iterate<any>({ query: 'subscription($id: ID!) { orderStatusChanged(orderId: $id) { sequence } }', variables: { id: confirmedOrderId } });
        const first = await it.next();
        expect((first.value as any)?.errors?.[0]?.extensions?.code).toBe(code);
      } finally {
        await c.dispose();
      }
    }
  });

  it('notificationAdded and stockChanged push live', async () => {
    const carol = { sub: 'carol' };
    const notes = wsClient(sys.notifications.url, carol);
    const stockWs = wsClient(sys.inventory.url);
    try {
      const noteIt = notes.iterate<any>({ query: 'subscription { notificationAdded { kind orderId } }' });
      const stockIt = stockWs.iterate<any>({ query: 'subscription { stockChanged(productId: "prd_misc") { id stock { available } } }' });
      const firstNote = noteIt.next();
      const firstStock = stockIt.next();
      await sleep(200); // let both subscriptions reach Redis
      const placed = await placeOk(carol, [{ productId: 'prd_misc', quantity: 2 }]);
      const n = await firstNote;
      expect(n.value.data.notificationAdded).toEqual({ kind: 'ORDER_CONFIRMED', orderId: placed.id });
      const s = await firstStock;
      expect(s.value.data.stockChanged.id).toBe('prd_misc');
      await noteIt.return?.();
      await stockIt.return?.();
    } finally {
      await notes.dispose();
      await stockWs.dispose();
    }
  });

  it('restock: admin only, publishes and applies', async () => {
    const q = 'mutation($p: ID!, $n: Int!) { restock(productId: $p, quantity: $n) { id stock { available } } }';
    expect(codes(await gql(sys.inventory.url, q, { p: 'prd_misc', n: 5 }, alice))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(sys.inventory.url, q, { p: 'prd_misc', n: 5 }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await gql(sys.inventory.url, q, { p: 'prd_misc', n: 0 }, admin))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(sys.inventory.url, q, { p: 'prd_unknown-x', n: 5 }, admin))).toEqual(['NOT_FOUND']);
    const before = (await stock('prd_misc')).available;
    const r = await gqlOk(sys.inventory.url, q, { p: 'prd_misc', n: 5 }, admin);
    expect(r.restock.stock.available).toBe(before + 5);
  });
});

describe('input validation and access', () => {
  it('BAD_USER_INPUT names the problem and the line', async () => {
    const cases: [unknown[], RegExp][] = [
      [[], /1 to 50 lines/],
      [Array.from({ length: 51 }, (_, i) => ({ productId: `prd_misc${i}`, quantity: 1 })), /1 to 50 lines, got 51/],
      [[{ productId: 'prd_misc', quantity: 0 }], /Line 1 \(prd_misc\): quantity must be between 1 and 1000, got 0/],
      [[{ productId: 'prd_misc', quantity: 1 }, { productId: 'prd_happy', quantity: 1001 }], /Line 2 \(prd_happy\): quantity must be between 1 and 1000/],
      [[{ productId: 'banana', quantity: 1 }], /Line 1: malformed product id "banana"/],
      [[{ productId: 'prd_misc', quantity: 1 }, { productId: 'prd_nope-nope', quantity: 1 }], /Line 2: unknown product prd_nope-nope/],
      [[{ productId: 'prd_misc', quantity: 1 }, { productId: 'prd_misc', quantity: 1 }], /already on line 1/],
    ];
    for (const [lines, message] of cases) {
      const r = await gql(sys.orders.url, PLACE_ORDER, { input: { lines, paymentToken: 'tok_visa' } }, alice);
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
      expect(r.errors![0]!.message).toMatch(message);
    }
    // GraphQL errors travel with HTTP 200 (a gateway treats a subgraph 4xx as the subgraph failing).
    const raw = await fetch(sys.orders.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-shop-identity': identityHeader('alice') },
      body: JSON.stringify({ query: 'mutation { placeOrder(input: { lines: [], paymentToken: "tok_visa" }) { order { id } } }' }),
    });
    expect(raw.status).toBe(200);
    expect(codes((await raw.json()) as any)).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(sys.orders.url, ORDER_QUERY, { id: 'ord_short' }, alice))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(sys.inventory.url, PRODUCT_QUERY, { id: 'nope' }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(sys.orders.url, '{ myOrders(first: 0) { edges { cursor } } }', {}, alice))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(sys.orders.url, '{ myOrders(after: "garbage!") { edges { cursor } } }', {}, alice))).toEqual(['BAD_USER_INPUT']);
  });

  it('a refused placeOrder leaves its idempotency key free: the corrected retry is placed at once, and a repeat returns that order', async () => {
    const key = `fix-${randomUUID()}`;
    const refused = await place(alice, [{ productId: 'prd_nope-nope', quantity: 1 }], 'tok_visa', key);
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    const placed = await placeOk(alice, [{ productId: 'prd_misc', quantity: 1 }], 'tok_visa', key);
    const again = await placeOk(alice, [{ productId: 'prd_misc', quantity: 1 }], 'tok_visa', key);
    expect(again.id).toBe(placed.id);
  });

  it('UNAUTHENTICATED without (or with a forged) identity; another customer\'s order answers as a missing one', async () => {
    const r = await gql(sys.orders.url, PLACE_ORDER, { input: { lines: [{ productId: 'prd_misc', quantity: 1 }], paymentToken: 'tok_visa' } });
    expect(codes(r)).toEqual(['UNAUTHENTICATED']);
    const forged = await fetch(sys.orders.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-shop-identity': 'eyJzdWIiOiJhbGljZSJ9.bm90LWEtbWFj' },
      body: JSON.stringify({ query: '{ myOrders { edges { cursor } } }' }),
    });
    expect(codes((await forged.json()) as any)).toEqual(['UNAUTHENTICATED']);
    expect(codes(await gql(sys.notifications.url, '{ myNotifications { edges { cursor } } }'))).toEqual(['UNAUTHENTICATED']);
    expect(await gql(sys.orders.url, ORDER_QUERY, { id: confirmedOrderId }, bob)).toEqual({ data: { order: null } });
    expect((await gqlOk(sys.orders.url, ORDER_QUERY, { id: confirmedOrderId }, admin)).order.id).toBe(confirmedOrderId);
    expect((await gqlOk(sys.orders.url, ORDER_QUERY, { id: 'ord_doesnotexist0000000000' }, alice)).order).toBeNull();
    expect(codes(await gql(sys.orders.url, '{ orders { edges { cursor } } }', {}, alice))).toEqual(['FORBIDDEN']);
    const all = await gqlOk(sys.orders.url, '{ orders(first: 100, status: CONFIRMED) { edges { node { id status } } } }', {}, admin);
    expect(all.orders.edges.every((e: any) => e.node.status === 'CONFIRMED')).toBe(true);
    // Catalog reads are public, with cursor pagination.
    const p1 = await gqlOk(sys.inventory.url, '{ products(first: 10) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }');
    expect(p1.products.edges).toHaveLength(10);
    const p2 = await gqlOk(sys.inventory.url, 'query($a: String) { products(first: 100, after: $a) { edges { node { id } } pageInfo { hasNextPage } } }', { a: p1.products.pageInfo.endCursor });
    const ids = [...p1.products.edges, ...p2.products.edges].map((e: any) => e.node.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(27); // 20+ seed products and the test ones
    expect([...ids].sort()).toEqual(ids);
  });

  it('ops endpoints: /healthz, /readyz, /metrics', async () => {
    for (const svc of [sys.orders, sys.inventory, sys.notifications]) {
      const base = svc.url.replace('/graphql', '');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const ready = await fetch(`${base}/readyz`);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { redis: 'ok', kafka: 'ok' } });
    }
    const metrics = await (await fetch(sys.orders.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/shop_saga_transitions_total\{[^}]*from="PAYMENT_AUTHORIZED"[^}]*to="CONFIRMED"[^}]*\} \d+/);
    expect(metrics).toMatch(/shop_events_handled_total\{[^}]*group="orders-saga"[^}]*type="StockReserved"[^}]*outcome="ok"/);
  });
});

describe('failures', () => {
  it('a poison record on shop.orders goes to the dead-letter topic and the consumers go on', async () => {
    const admin = sys.kafka.admin();
    await admin.connect();
    const dlqCount = async () => (await admin.fetchTopicOffsets(deadLetterTopic(TOPICS.orders))).reduce((n, p) => n + Number(p.high), 0);
    const before = await dlqCount();
    const raw = sys.kafka.producer();
    await raw.connect();
    await raw.send({ topic: TOPICS.orders, messages: [{ key: 'ord_poison', value: '{"this is": "not an event"' }] });
    await raw.disconnect();
    // orders-projector, inventory and notifications each dead-letter it once (the saga does not read shop.orders).
    await waitFor('dead letters', async () => (await dlqCount()) >= before + 3);
    await admin.disconnect();
    const placed = await placeOk(alice, [{ productId: 'prd_misc', quantity: 1 }]);
    expect((await waitForOrder(sys.orders.url, placed.id, alice, isFinal)).status).toBe('CONFIRMED');
  });

  it('a redelivered OrderPlaced (new event id, same order) reserves nothing twice', async () => {
    const before = await stock('prd_happy');
    const order = (await gqlOk(sys.orders.url, ORDER_QUERY, { id: confirmedOrderId }, alice)).order;
    await sys.producer.publish(
      createEvent(
        'OrderPlaced',
        {
          orderId: order.id,
          customerId: 'alice',
          lines: [{ productId: 'prd_happy', quantity: 2, unitPrice: { amount: 1250, currency: 'USD' } }],
          total: { amount: 2500, currency: 'USD' },
          paymentToken: 'tok_visa',
          idempotencyKey: null,
          deadlineAt: new Date(Date.now() + 60_000).toISOString(),
        },
        { key: order.id, correlationId: 'redelivery-test' },
      ),
    );
    // A later order on the same partition proves the duplicate was consumed.
    const placed = await placeOk(alice, [{ productId: 'prd_misc', quantity: 1 }]);
    await waitForOrder(sys.orders.url, placed.id, alice, isFinal);
    await sleep(300);
    expect(await stock('prd_happy')).toEqual(before);
    const after = (await gqlOk(sys.orders.url, ORDER_QUERY, { id: confirmedOrderId }, alice)).order;
    expect(after.history).toHaveLength(4);
  });
});

describe('rebuild', () => {
  async function dump(redis: Redis): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const prefix of ['orders:', 'inventory:', 'notifications:']) {
      const keys = await redis.keys(`${prefix}*`);
      for (const key of keys.sort()) {
        // Not read models: a placeOrder's short-lived claim, the payment worker's memory of provider answers.
        if (/^orders:\{[^}]*\}:(claim|payment)$/.test(key)) continue;
        const type = await redis.type(key);
        out[key] =
          type === 'hash'
            ? await redis.hgetall(key)
            : type === 'list'
              ? await redis.lrange(key, 0, -1)
              : type === 'zset'
                ? await redis.zrange(key, 0, -1, 'WITHSCORES')
                : type === 'set'
                  ? (await redis.smembers(key)).sort()
                  : await redis.get(key);
      }
    }
    return out;
  }

  it('wiping Redis and replaying the topics restores the same orders, stock and notifications', async () => {
    await sys.stopServices();
    const original = await dump(sys.redis);
    expect(Object.keys(original).filter((k) => /^orders:\{[^}]*\}$/.test(k)).length).toBeGreaterThan(10);
    const started = Date.now();
    const result = await rebuildReadModels({ redis: sys.redis, kafka: sys.kafka, logger: sys.logger });
    console.log(`rebuild: ${result.events} events (${result.skipped} skipped) in ${Date.now() - started} ms`);
    expect(result.deletedKeys).toBeGreaterThan(0);
    expect(result.skipped).toBe(1); // the poison record
    const rebuilt = await dump(sys.redis);
    expect(rebuilt).toEqual(original);
  });
});
