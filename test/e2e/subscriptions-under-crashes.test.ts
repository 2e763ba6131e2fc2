// Subscribers waiting on orders in flight while the infrastructure under their pushes crashes: redis-server
// (pub/sub and the histories) killed with SIGKILL and started again on its AOF, and the orders subgraph
// (the gateway's upstream graphql-ws connection) killed and started again. Every subscriber must see every
// change of its order once, in order, up to the final status, without resubscribing itself.
import { randomBytes } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql, wsClient } from '../support/clients.js';
import { RESTOCK, listProducts, placeOrder, type Product } from '../support/shop.js';
import { incompleteWatchers, OrderWatcher } from '../support/order-watcher.js';
import { startSystem, type TestSystem } from '../support/system.js';


/** Subscribers per scenario, spread over this many customers (one WebSocket each, as a browser tab). */
const SUBSCRIBERS = 200;
const CUSTOMERS = 10;
/** Orders placed per second while the fault happens. */
const RATE = 40;
/** Longer than the orders subgraph takes to start again, so orders waiting for it outlive the fault. */
const SAGA_DEADLINE_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let system: TestSystem;
let admin: string;
let customers: { token: string; client: Client }[] = [];
let products: Product[];

beforeAll(async () => {
  // AOF on, as `npm start` runs redis-server (appendfsync everysec).
  system = await startSystem({ redisAppendOnly: true, sagaDeadlineMs: SAGA_DEADLINE_MS, env: { RATE_LIMIT: '10000000' } });
  admin = await system.token('admin', ['admin']);
  const run = randomBytes(3).toString('hex');
  customers = await Promise.all(
    Array.from({ length: CUSTOMERS }, async (_, i) => {
      const token = await system.token(`crash-${run}-${i}`);
      return { token, client: wsClient(system.gatewayUrl, token) };
    }),
  );
  products = (await listProducts(system.gatewayUrl)).slice(0, 8);
  // Stock for both scenarios, so every order can be confirmed.
  for (const p of products) {
    const r = await graphql(system.gatewayUrl, RESTOCK, { productId: p.id, quantity: SUBSCRIBERS }, { token: admin });
    expect(r.errors).toBeUndefined();
  }
});

afterAll(async () => {
  await Promise.all(customers.map((c) => Promise.resolve(c.client.dispose()).catch(() => undefined)));
  await system?.stop();
});

/** Places an order, asking again with the same idempotency key while the system is down (bounded). */
async function placeWithRetry(token: string, key: string, productId: string, paymentToken: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 1; ; attempt++) {
    try {
      const order = await placeOrder(system.gatewayUrl, token, { lines: [{ productId, quantity: 1 }], paymentToken, idempotencyKey: key });
      return order.id;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(Math.min(1_000, 100 * attempt));
    }
  }
}

/**
 * Places SUBSCRIBERS orders at RATE per second, each watched by a subscriber from the moment it is placed,
 * runs `fault` after `faultAfterMs`, then waits (bounded) for every subscriber to see a final status.
 */
async function runScenario(name: string, faultAfterMs: number, fault: () => Promise<void>): Promise<{ watchers: OrderWatcher[]; acrossFault: number }> {
  const watchers: OrderWatcher[] = [];
  const placing: Promise<void>[] = [];
  const started = Date.now();
  const window = { from: 0, to: 0 };
  const faultDone = sleep(faultAfterMs).then(async () => {
    window.from = Date.now();
    await fault();
    window.to = Date.now();
  });
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const customer = customers[i % CUSTOMERS]!;
    const product = products[i % products.length]!;
    placing.push(
      // Every tenth payment never answers: that order waits for the saga deadline, so it is surely in flight during the fault.
      placeWithRetry(customer.token, `${name}-${i}`, product.id, i % 10 === 0 ? 'tok_timeout' : 'tok_visa').then((orderId) => {
        watchers.push(new OrderWatcher(customer.client, orderId));
      }),
    );
    await sleep(Math.max(0, started + ((i + 1) * 1000) / RATE - Date.now()));
  }
  await Promise.all(placing);
  await faultDone;
  const deadline = sleep(60_000);
  await Promise.race([Promise.all(watchers.map((w) => w.done)), deadline]);
  for (const w of watchers) w.finish();
  // Subscriptions that had changes pushed before the fault and after it: the ones the fault put at risk.
  const acrossFault = watchers.filter((w) => w.firstAt && w.firstAt < window.from && w.lastAt > window.to).length;
  return { watchers, acrossFault };
}

/** Every watcher saw 1..n once, in order, ending with the final status the order has, as its history says. */
async function expectComplete(watchers: OrderWatcher[]): Promise<void> {
  expect(watchers).toHaveLength(SUBSCRIBERS);
  const problems = await incompleteWatchers(watchers, system.gatewayUrl, admin);
  expect(problems, `${problems.length} of ${watchers.length} subscribers incomplete`).toEqual([]);
}

describe(`${SUBSCRIBERS} subscribers on orders in flight`, () => {
  it('see every change once, in order, when redis-server is killed (SIGKILL) and restarted on its AOF', async () => {
    const redis = system.processes.get('redis')!;
    const { watchers, acrossFault } = await runScenario('redis', 1_500, async () => {
      redis.signal('SIGKILL');
      await redis.exited();
      await sleep(500);
      await redis.restart();
      await system.waitReady('redis', 30_000);
    });
    await expectComplete(watchers);
    expect(acrossFault, 'subscriptions live across the fault').toBeGreaterThan(0);
  });

  it('see every change once, in order, when the orders subgraph is killed (SIGKILL) and the gateway resubscribes', async () => {
    const orders = system.processes.get('orders-1')!;
    const { watchers, acrossFault } = await runScenario('orders', 1_500, async () => {
      orders.signal('SIGKILL');
      await orders.exited();
      await sleep(500);
      await orders.restart();
      await system.waitReady('orders-1', 60_000);
    });
    await expectComplete(watchers);
    expect(acrossFault, 'subscriptions live across the fault').toBeGreaterThan(0);
  });
});
