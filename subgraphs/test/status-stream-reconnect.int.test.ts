/* eslint-disable @typescript-eslint/no-explicit-any -- GraphQL answers are untyped JSON; the assertions check their shape. */
/**
 * A status change published while the orders service's pub/sub connection is down never reaches it: the
 * live subscriptions must read it from the history once that connection is back. Redis drops the pub/sub
 * connections here (CLIENT KILL TYPE pubsub, again and again) while the saga cancels an order, so the
 * change is published while nobody listens, every time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { gql, gqlOk, PLACE_ORDER, startTestSystem, waitForOrder, wsClient, type TestSystem } from './harness.js';

const alice = { sub: 'alice' };
let sys: TestSystem;

beforeAll(async () => {
  // The deadline (tok_timeout never answers) is far past the test: only the cancellation ends the order.
  sys = await startTestSystem({ sagaDeadlineMs: 120_000, paymentTimeoutMs: 500 });
  await sys.registerProduct('prd_reconnect', 10, 500);
});
afterAll(async () => sys?.close());

it('delivers, once and in order, a change published while the pub/sub connection was down', async () => {
  const placed = await gqlOk(sys.orders.url, PLACE_ORDER, { input: { lines: [{ productId: 'prd_reconnect', quantity: 1 }], paymentToken: 'tok_timeout' } }, alice);
  const orderId: string = placed.placeOrder.order.id;
  await waitForOrder(sys.orders.url, orderId, alice, (s) => s === 'INVENTORY_RESERVED');

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

    // Keep the pub/sub connections down (ioredis waits >= 200 ms before each reconnect) while the saga cancels.
    let cutting = true;
    let cuts = 0;
    const cutter = (async () => {
      while (cutting) {
        cuts += Number(await sys.redis.client('KILL', 'TYPE', 'pubsub'));
        await sleep(5);
      }
    })();
    try {
      const r = await gql(sys.orders.url, 'mutation($id: ID!) { cancelOrder(id: $id) { status } }', { id: orderId }, alice);
      expect(r.errors).toBeUndefined();
      await waitForOrder(sys.orders.url, orderId, alice, (s) => s === 'CANCELLED');
      await sleep(300);
    } finally {
      cutting = false;
      await cutter;
    }
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
