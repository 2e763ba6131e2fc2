// A gateway over two replicas of the orders subgraph (ORDERS_URL lists both): its calls are spread over
// them, and when one is killed (SIGKILL) in the middle of queries, order placing and live subscriptions,
// queries keep being answered and every subscriber still sees every change of its order once, in order,
// its upstream subscription resumed on the other replica with `after`.
import { randomBytes } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, graphql, wsClient } from '../support/clients.js';
import { ORDER, RESTOCK, listProducts, placeOrder, type Product } from '../support/shop.js';
import { incompleteWatchers, OrderWatcher } from '../support/order-watcher.js';
import { startSystem, type TestSystem } from '../support/system.js';


/** Orders placed (each watched by one subscriber), at this many per second, the replica killed in the middle. */
const ORDERS = 60;
const RATE = 20;
const KILL_AFTER_MS = 1_500;
/** Every fourth payment never answers: those orders wait for the saga deadline, so they are surely in flight at the kill. */
const SAGA_DEADLINE_MS = 6_000;
/** Queries sent one after another while the replica dies: at most this many, for at most this long. */
const QUERY_LOOP = { max: 400, ms: 6_000 };
/** Queries that may fail while a replica dies (each with a retriable code); the one failover should make it none. */
const TOLERATED_QUERY_FAILURES = 2;

/** An order id of the right shape that no order has: a read the orders subgraph answers with null. */
const missingOrder = (n: number) => `ord_missing${String(n).padStart(16, '0')}`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The gateway's metric samples whose name and labels match, summed (Prometheus text format). */
async function metric(gatewayUrl: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(new URL('/metrics', gatewayUrl))).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

let system: TestSystem;
let admin: string;
let customer: { token: string; client: Client };
let products: Product[];
let replicas: string[];

beforeAll(async () => {
  system = await startSystem({
    replicas: { orders: 2 },
    sagaDeadlineMs: SAGA_DEADLINE_MS,
    env: {
      RATE_LIMIT: '10000000',
      SUBGRAPH_HEALTH_INTERVAL: '500ms',
      SUBGRAPH_HEALTH_TIMEOUT: '400ms',
      // The killed replica's partitions move to the survivor within the test's time.
      KAFKA_SESSION_TIMEOUT_MS: '6000',
    },
  });
  replicas = system.subgraphUrls.orders.map((u) => new URL(u).host);
  admin = await system.token('admin', ['admin']);
  const token = await system.token(`replicas-${randomBytes(3).toString('hex')}`);
  customer = { token, client: wsClient(system.gatewayUrl, token) };
  products = (await listProducts(system.gatewayUrl)).slice(0, 4);
  for (const p of products) {
    const r = await graphql(system.gatewayUrl, RESTOCK, { productId: p.id, quantity: ORDERS }, { token: admin });
    expect(r.errors).toBeUndefined();
  }
});

afterAll(async () => {
  await Promise.resolve(customer?.client.dispose()).catch(() => undefined);
  await system?.stop();
});

/** Places an order, asking again with the same idempotency key when the gateway answers with a retriable error (bounded). */
async function placeWithRetry(key: string, productId: string, paymentToken: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return (await placeOrder(system.gatewayUrl, customer.token, { lines: [{ productId, quantity: 1 }], paymentToken, idempotencyKey: key })).id;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100 * attempt);
    }
  }
}

describe('a gateway over two replicas of orders', () => {
  it('spreads its calls over both replicas and counts both up', async () => {
    const before = await Promise.all(replicas.map((replica) => metric(system.gatewayUrl, 'gateway_subgraph_replica_requests_total', { subgraph: 'orders', replica })));
    // Distinct orders, so no two fetches are shared.
    for (let i = 0; i < 20; i++) {
      const r = await graphql(system.gatewayUrl, ORDER, { id: missingOrder(i) }, { token: admin });
      expect(r.errors).toBeUndefined();
    }
    const after = await Promise.all(replicas.map((replica) => metric(system.gatewayUrl, 'gateway_subgraph_replica_requests_total', { subgraph: 'orders', replica })));
    const sent = after.map((n, i) => n - before[i]!);
    expect(sent[0]! + sent[1]!).toBeGreaterThanOrEqual(20);
    // Round-robin over two replicas equally loaded: close to half each.
    expect(Math.min(...sent)).toBeGreaterThanOrEqual(5);
    for (const replica of replicas) expect(await metric(system.gatewayUrl, 'gateway_subgraph_replica_up', { subgraph: 'orders', replica })).toBe(1);
  });

  it('keeps answering queries and keeps every subscription whole when one replica is killed (SIGKILL)', async () => {
    const victim = system.processes.get('orders-1')!;
    const dropsBefore = await metric(system.gatewayUrl, 'gateway_upstream_errors_total', { subgraph: 'orders', kind: 'ws_drop' });
    const watchers: OrderWatcher[] = [];
    const placing: Promise<void>[] = [];
    const started = Date.now();

    // Queries, one after another, from before the kill until well after it.
    const queryFailures: string[] = [];
    let queries = 0;
    const querying = (async () => {
      const until = Date.now() + QUERY_LOOP.ms;
      while (queries < QUERY_LOOP.max && Date.now() < until) {
        const r = await graphql(system.gatewayUrl, ORDER, { id: missingOrder(1_000 + queries) }, { token: admin });
        queries++;
        if (r.errors?.length && queryFailures.length < 20) queryFailures.push(String(errorCode(r)));
      }
    })();

    const kill = sleep(KILL_AFTER_MS).then(async () => {
      victim.signal('SIGKILL');
      await victim.exited();
    });
    for (let i = 0; i < ORDERS; i++) {
      const product = products[i % products.length]!;
      placing.push(
        placeWithRetry(`replicas-${started}-${i}`, product.id, i % 4 === 0 ? 'tok_timeout' : 'tok_visa').then((orderId) => {
          watchers.push(new OrderWatcher(customer.client, orderId));
        }),
      );
      await sleep(Math.max(0, started + ((i + 1) * 1000) / RATE - Date.now()));
    }
    await Promise.all([...placing, kill, querying]);

    const deadline = sleep(60_000);
    await Promise.race([Promise.all(watchers.map((w) => w.done)), deadline]);
    for (const w of watchers) w.finish();

    // Queries: answered throughout, a failure (if any) with the retriable outage code.
    expect(queries).toBeGreaterThan(20);
    expect(queryFailures.length, `failed queries: ${queryFailures.join(', ')}`).toBeLessThanOrEqual(TOLERATED_QUERY_FAILURES);
    for (const code of queryFailures) expect(code).toBe('UPSTREAM_UNAVAILABLE');

    // The dead replica is counted down; upstream subscriptions on it were dropped (and resumed, as below).
    expect(await metric(system.gatewayUrl, 'gateway_subgraph_replica_up', { subgraph: 'orders', replica: replicas[0]! })).toBe(0);
    expect(await metric(system.gatewayUrl, 'gateway_subgraph_replica_up', { subgraph: 'orders', replica: replicas[1]! })).toBe(1);
    expect(await metric(system.gatewayUrl, 'gateway_upstream_errors_total', { subgraph: 'orders', kind: 'ws_drop' })).toBeGreaterThan(dropsBefore);

    // Every subscriber: 1..n once, in order, up to the final status, exactly the order's history.
    expect(watchers).toHaveLength(ORDERS);
    const problems = await incompleteWatchers(watchers, system.gatewayUrl, admin);
    expect(problems, `${problems.length} of ${watchers.length} subscribers incomplete`).toEqual([]);
  });
});
