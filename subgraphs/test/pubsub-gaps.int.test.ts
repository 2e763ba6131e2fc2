/* eslint-disable @typescript-eslint/no-explicit-any -- GraphQL answers are untyped JSON; the assertions check their shape. */
/**
 * What is published while a service's pub/sub connection is down never reaches it: its live subscriptions
 * must read it from the store once that connection is back. Redis drops the pub/sub connections here
 * (CLIENT KILL TYPE pubsub, again and again) while the saga cancels an order, so the status change and its
 * notification are published while nobody listens, every time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { gql, gqlOk, PLACE_ORDER, startTestSystem, waitFor, waitForOrder, wsClient, type TestSystem } from './harness.js';

const alice = { sub: 'alice' };
let sys: TestSystem;

beforeAll(async () => {
  // The deadline (tok_timeout never answers) is far past the test: only the cancellation ends the order.
  sys = await startTestSystem({ sagaDeadlineMs: 120_000, paymentTimeoutMs: 500 });
  await sys.registerProduct('prd_reconnect', 10, 500);
});
afterAll(async () => sys?.close());

/** Runs `during` while Redis keeps cutting every pub/sub connection (ioredis waits >= 200 ms before each reconnect). */
async function withPubSubDown(during: () => Promise<void>): Promise<number> {
  let cutting = true;
  let cuts = 0;
  const cutter = (async () => {
    while (cutting) {
      cuts += Number(await sys.redis.client('KILL', 'TYPE', 'pubsub'));
      await sleep(5);
    }
  })();
  try {
    await during();
  } finally {
    cutting = false;
    await cutter;
  }
  return cuts;
}

async function cancel(orderId: string): Promise<void> {
  const r = await gql(sys.orders.url, 'mutation($id: ID!) { cancelOrder(id: $id) { status } }', { id: orderId }, alice);
  expect(r.errors).toBeUndefined();
  await waitForOrder(sys.orders.url, orderId, alice, (s) => s === 'CANCELLED');
}

/** An order waiting for its payment (tok_timeout), past its reservation. */
async function reservedOrder(): Promise<string> {
  const placed = await gqlOk(sys.orders.url, PLACE_ORDER, { input: { lines: [{ productId: 'prd_reconnect', quantity: 1 }], paymentToken: 'tok_timeout' } }, alice);
  const orderId: string = placed.placeOrder.order.id;
  await waitForOrder(sys.orders.url, orderId, alice, (s) => s === 'INVENTORY_RESERVED');
  return orderId;
}

it('orderStatusChanged delivers, once and in order, a change published while the pub/sub connection was down', async () => {
  const orderId = await reservedOrder();

  const client = wsClient(sys.orders.url, alice);
  const seen: string[] = [];
  let errors: unknown[] = [];
  const unsubscribe = client.subscribe<any>(
    { query: 'subscription($id: ID!) { orderStatusChanged(orderId: $id, after: 0) { sequence status } }', variables: { id: orderId } },
    {
      next: (r) => {
        if (r.errors) errors = [...errors, ...r.errors];
        if (r.data) seen.push(`${r.data.orderStatusChanged.sequence}:${r.data.orderStatusChanged.status}`);
      },
      error: (err) => void (errors = [...errors, err]),
      complete: () => undefined,
    },
  );
  try {
    await expect.poll(() => seen).toEqual(['1:PENDING', '2:INVENTORY_RESERVED']);

    const cuts = await withPubSubDown(async () => {
      await cancel(orderId);
      await sleep(300);
    });
    expect(cuts, 'pub/sub connections cut').toBeGreaterThan(0);

    await expect.poll(() => seen, { timeout: 10_000 }).toEqual(['1:PENDING', '2:INVENTORY_RESERVED', '3:CANCELLED']);
    await sleep(300);
    expect(seen, 'nothing twice').toHaveLength(3);
    expect(errors).toEqual([]);
  } finally {
    unsubscribe();
    await client.dispose();
  }
});

it('notificationAdded delivers, once, a notification published while the pub/sub connection was down', async () => {
  const client = wsClient(sys.notifications.url, alice);
  const seen: string[] = [];
  let errors: unknown[] = [];
  const unsubscribe = client.subscribe<any>(
    { query: 'subscription { notificationAdded { id orderId kind } }' },
    {
      next: (r) => {
        if (r.errors) errors = [...errors, ...r.errors];
        if (r.data) seen.push(`${r.data.notificationAdded.orderId}:${r.data.notificationAdded.kind}`);
      },
      error: (err) => void (errors = [...errors, err]),
      complete: () => undefined,
    },
  );
  try {
    // Live once it gets the notice of an order cancelled after it began (notices are for final statuses only).
    await waitFor('a live notification subscription', async () => {
      const live = await reservedOrder();
      await cancel(live);
      await sleep(500);
      return seen.includes(`${live}:ORDER_CANCELLED`);
    });
    const orderId = await reservedOrder();
    const cuts = await withPubSubDown(async () => {
      await cancel(orderId);
      // Recorded by the notifications consumer (and published while nobody listened).
      await waitFor('the cancellation notice', async () => {
        const d = await gqlOk(sys.notifications.url, 'query { myNotifications(first: 50) { edges { node { orderId } } } }', {}, alice);
        return d.myNotifications.edges.some((e: any) => e.node.orderId === orderId);
      });
      await sleep(300);
    });
    expect(cuts, 'pub/sub connections cut').toBeGreaterThan(0);
    await expect.poll(() => seen.filter((n) => n === `${orderId}:ORDER_CANCELLED`), { timeout: 10_000 }).toHaveLength(1);
    await sleep(300);
    expect(seen.filter((n) => n.startsWith(orderId)), 'nothing twice').toEqual([`${orderId}:ORDER_CANCELLED`]);
    expect(new Set(seen).size, 'no notification twice').toBe(seen.length);
    expect(errors).toEqual([]);
  } finally {
    unsubscribe();
    await client.dispose();
  }
});

it('stockChanged pushes the current stock when the pub/sub connection is back, after a change it missed', async () => {
  const admin = { sub: 'root', roles: ['admin'] };
  const client = wsClient(sys.inventory.url, alice);
  const seen: number[] = [];
  let errors: unknown[] = [];
  const unsubscribe = client.subscribe<any>(
    { query: 'subscription { stockChanged(productId: "prd_reconnect") { stock { available } } }' },
    {
      next: (r) => {
        if (r.errors) errors = [...errors, ...r.errors];
        if (r.data) seen.push(r.data.stockChanged.stock.available);
      },
      error: (err) => void (errors = [...errors, err]),
      complete: () => undefined,
    },
  );
  const restock = async (quantity: number): Promise<number> => {
    const d = await gqlOk(sys.inventory.url, 'mutation($q: Int!) { restock(productId: "prd_reconnect", quantity: $q) { stock { available } } }', { q: quantity }, admin);
    return d.restock.stock.available;
  };
  try {
    // Live once a restock made after it began is pushed.
    await waitFor('a live stock subscription', async () => {
      const available = await restock(1);
      await sleep(300);
      return seen.includes(available);
    });
    let restocked = 0;
    const cuts = await withPubSubDown(async () => {
      restocked = await restock(5);
      await sleep(300);
    });
    expect(cuts, 'pub/sub connections cut').toBeGreaterThan(0);
    await expect.poll(() => seen.at(-1), { timeout: 10_000 }).toBe(restocked);
    expect(errors).toEqual([]);
  } finally {
    unsubscribe();
    await client.dispose();
  }
});
