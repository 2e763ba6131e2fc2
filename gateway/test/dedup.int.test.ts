import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../src/server.js';
import type { Client } from 'graphql-ws';
import { startTestGateway, tokenFor, wsClient } from './fixtures/gateway.js';
import { startRedis, type TestRedis } from './fixtures/redis.js';
import { startTestGraph, type TestGraph, type TestSubgraph } from './fixtures/subgraphs.js';

/**
 * In-flight sharing, through a running gateway on real subgraphs. Of subgraph fetches (outbound,
 * with inbound sharing switched off so every client query runs): identical reads in flight at once
 * reach the subgraph once; public ones (nothing `@authenticated`) across customers, personal ones
 * only within one customer; mutations and switched-off subgraphs never. Of client queries
 * (inbound): identical queries in flight at once run once, across customers when no fetch of the
 * plan carries an identity, otherwise only within one customer; mutations and a switched-off gateway never.
 */

interface Body {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

async function post(gateway: RunningGateway, body: Record<string, unknown>, token?: string): Promise<Body> {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Body;
}

/** One series of a counter from the gateway's `/metrics` (0 before its first count). */
async function counter(gateway: RunningGateway, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** `gateway_subgraph_fetches_total{subgraph,outcome}`. */
const fetches = (gateway: RunningGateway, subgraph: string, outcome: 'sent' | 'shared') => counter(gateway, 'gateway_subgraph_fetches_total', { subgraph, outcome });
/** `gateway_inbound_queries_total{outcome}`. */
const inbound = (gateway: RunningGateway, outcome: 'executed' | 'shared') => counter(gateway, 'gateway_inbound_queries_total', { outcome });

/** One query over graphql-ws: its one result. */
function wsQuery(client: Client, payload: { query: string; variables?: Record<string, unknown> }): Promise<Body> {
  return new Promise((resolve, reject) => {
    let result: Body = {};
    client.subscribe(payload, { next: (r) => (result = r as Body), error: reject, complete: () => resolve(result) });
  });
}

/** HTTP requests a subgraph received while `run` ran. */
async function received<T>(subgraph: TestSubgraph, run: () => Promise<T>): Promise<{ count: number; result: T }> {
  const before = subgraph.correlationIds.length;
  const result = await run();
  return { count: subgraph.correlationIds.length - before, result };
}

const PRODUCT = 'query($id: ID!) { product(id: $id) { id name price { amount currency } } }';
const ORDER = 'query($id: ID!) { order(id: $id) { id customerId lines { quantity product { id name } } } }';
const ORDER_WITH_NOTIFICATIONS = 'query($id: ID!) { order(id: $id) { id customerId lines { quantity product { id name } } notifications { orderId message } } }';
/** Held long enough that every concurrent request's fetch starts while the first is in flight. */
const HOLD_MS = 300;

describe('in-flight sharing of subgraph fetches', () => {
  let redis: TestRedis;
  let graph: TestGraph;
  let gateway: RunningGateway;
  let unshared: RunningGateway;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    redis = await startRedis();
    graph = await startTestGraph();
    gateway = await startTestGateway(graph, redis.url, { DEDUP_INBOUND: 'false' });
    unshared = await startTestGateway(graph, redis.url, { DEDUP_INBOUND: 'false', DEDUP_SUBGRAPHS_OFF: 'inventory' });
    for (const who of ['alice', 'bob', 'carol']) tokens[who] = await tokenFor(who);
    tokens.admin = await tokenFor('root', ['admin']);
  });

  afterEach(() => {
    graph.orders.delayMs = 0;
    graph.inventory.delayMs = 0;
    graph.notifications.delayMs = 0;
  });

  afterAll(async () => {
    await gateway?.close();
    await unshared?.close();
    await graph?.close();
    await redis?.close();
  });

  it('sends identical concurrent reads of one caller once and gives each its own answer', async () => {
    graph.inventory.delayMs = HOLD_MS;
    const [sentBefore, sharedBefore] = [await fetches(gateway, 'inventory', 'sent'), await fetches(gateway, 'inventory', 'shared')];
    const { count, result } = await received(graph.inventory, () => Promise.all(Array.from({ length: 8 }, () => post(gateway, { query: PRODUCT, variables: { id: 'p1' } }))));
    expect(count).toBe(1);
    for (const r of result) expect(r).toEqual({ data: { product: { id: 'p1', name: 'Kettle', price: { amount: 2500, currency: 'USD' } } } });
    expect((await fetches(gateway, 'inventory', 'sent')) - sentBefore).toBe(1);
    expect((await fetches(gateway, 'inventory', 'shared')) - sharedBefore).toBe(7);

    // Different variables are different fetches.
    const mixed = await received(graph.inventory, () => Promise.all(['p1', 'p2', 'p1', 'p2'].map((id) => post(gateway, { query: PRODUCT, variables: { id } }))));
    expect(mixed.count).toBe(2);
    expect(mixed.result.map((r) => (r.data?.product as { name: string }).name)).toEqual(['Kettle', 'Teapot', 'Kettle', 'Teapot']);

    // Once answered, the next identical read is sent again: nothing is cached.
    const again = await received(graph.inventory, () => post(gateway, { query: PRODUCT, variables: { id: 'p1' } }));
    expect(again.count).toBe(1);
  });

  it('shares public fetches (nothing @authenticated) across customers and anonymous callers', async () => {
    graph.inventory.delayMs = HOLD_MS;
    const callers = [undefined, 'alice', 'bob', 'carol', 'alice', 'bob', 'carol', 'admin'];
    const { count, result } = await received(graph.inventory, () => Promise.all(callers.map((who) => post(gateway, { query: PRODUCT, variables: { id: 'p2' } }, who && tokens[who]))));
    expect(count).toBe(1);
    for (const r of result) expect(r).toEqual({ data: { product: { id: 'p2', name: 'Teapot', price: { amount: 1800, currency: 'USD' } } } });
  });

  it('never shares a fetch that needs an identity between customers, even under concurrency with mixed customers', async () => {
    graph.orders.delayMs = HOLD_MS;
    graph.notifications.delayMs = HOLD_MS / 3;
    graph.inventory.delayMs = HOLD_MS / 3;
    const owner: Record<string, string> = { o1: 'alice', o2: 'bob' };
    const asks = ['o1', 'o2', 'p1', 'p2'];
    const callers = Array.from({ length: 5 }, () => ['alice', 'bob', 'carol']).flat();
    // Every caller asks for both orders (with their notifications) and both products, all at once.
    const { count, result } = await received(graph.orders, () =>
      Promise.all(
        callers.flatMap((who) =>
          asks.map(async (id) => ({ who, id, body: await post(gateway, id.startsWith('o') ? { query: ORDER_WITH_NOTIFICATIONS, variables: { id } } : { query: PRODUCT, variables: { id } }, tokens[who]) })),
        ),
      ),
    );
    // One orders fetch per (customer, order): shared within a customer, never across.
    expect(count).toBe(3 * 2);
    for (const { who, id, body } of result) {
      expect(body.errors).toBeUndefined();
      if (id.startsWith('p')) {
        expect(body.data?.product).toMatchObject({ id });
        continue;
      }
      const order = body.data?.order as { id: string; customerId: string; notifications: { orderId: string }[] } | null;
      if (owner[id] !== who) {
        expect(order).toBeNull();
        continue;
      }
      expect(order).toMatchObject({ id, customerId: who });
      expect(order!.notifications.length).toBeGreaterThan(0);
      for (const n of order!.notifications) expect(n.orderId).toBe(id);
    }
  });

  it('still sends the identity where it is needed: a subgraph refuses a personal read without one', async () => {
    const anonymous = await post(gateway, { query: ORDER, variables: { id: 'o1' } });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const alice = await post(gateway, { query: ORDER_WITH_NOTIFICATIONS, variables: { id: 'o1' } }, tokens.alice);
    expect(alice.errors).toBeUndefined();
    expect(alice.data?.order).toMatchObject({ id: 'o1', customerId: 'alice' });
  });

  it('never shares mutations', async () => {
    graph.inventory.delayMs = HOLD_MS;
    const { count } = await received(graph.inventory, () =>
      Promise.all(Array.from({ length: 4 }, () => post(gateway, { query: 'mutation { restock(productId: "p1", quantity: 1) { id } }' }, tokens.admin))),
    );
    expect(count).toBe(4);
  });

  it('sends every fetch to a subgraph it is switched off for', async () => {
    graph.inventory.delayMs = HOLD_MS;
    const { count, result } = await received(graph.inventory, () => Promise.all(Array.from({ length: 5 }, () => post(unshared, { query: PRODUCT, variables: { id: 'p2' } }))));
    expect(count).toBe(5);
    for (const r of result) expect(r.data?.product).toMatchObject({ id: 'p2', name: 'Teapot' });
    expect(await fetches(unshared, 'inventory', 'shared')).toBe(0);
  });
});

describe('in-flight sharing of client queries (inbound)', () => {
  let redis: TestRedis;
  let graph: TestGraph;
  let gateway: RunningGateway;
  let off: RunningGateway;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    redis = await startRedis();
    graph = await startTestGraph();
    // Defaults: inbound and outbound sharing on.
    gateway = await startTestGateway(graph, redis.url);
    off = await startTestGateway(graph, redis.url, { DEDUP_INBOUND: 'false', DEDUP_SUBGRAPHS_OFF: '*' });
    for (const who of ['alice', 'bob', 'carol']) tokens[who] = await tokenFor(who);
    tokens.admin = await tokenFor('root', ['admin']);
  });

  afterEach(() => {
    graph.orders.delayMs = 0;
    graph.inventory.delayMs = 0;
    graph.notifications.delayMs = 0;
  });

  afterAll(async () => {
    await gateway?.close();
    await off?.close();
    await graph?.close();
    await redis?.close();
  });

  it('runs identical concurrent public queries once for every caller, anonymous included, and still counts each request', async () => {
    graph.inventory.delayMs = HOLD_MS;
    const callers = [undefined, 'alice', 'bob', 'carol', 'alice', 'admin'];
    const before = { executed: await inbound(gateway, 'executed'), shared: await inbound(gateway, 'shared'), fetched: await fetches(gateway, 'inventory', 'sent'), ok: await counter(gateway, 'gateway_requests_total', { type: 'query', transport: 'http', outcome: 'ok' }) };
    const { count, result } = await received(graph.inventory, () => Promise.all(callers.map((who) => post(gateway, { query: PRODUCT, variables: { id: 'p1' } }, who && tokens[who]))));
    expect(count).toBe(1);
    for (const r of result) expect(r).toEqual({ data: { product: { id: 'p1', name: 'Kettle', price: { amount: 2500, currency: 'USD' } } } });
    expect((await inbound(gateway, 'executed')) - before.executed).toBe(1);
    expect((await inbound(gateway, 'shared')) - before.shared).toBe(callers.length - 1);
    // One query ran, so one fetch: the sharing happened before any fetch was planned.
    expect((await fetches(gateway, 'inventory', 'sent')) - before.fetched).toBe(1);
    expect((await counter(gateway, 'gateway_requests_total', { type: 'query', transport: 'http', outcome: 'ok' })) - before.ok).toBe(callers.length);

    // Once answered, the next identical query runs again: nothing is cached.
    const again = await received(graph.inventory, () => post(gateway, { query: PRODUCT, variables: { id: 'p1' } }));
    expect(again.count).toBe(1);
  });

  it('keys on the whole operation: other variables, another operation name or another document run on their own', async () => {
    graph.inventory.delayMs = HOLD_MS;
    const named = 'query Kettle($id: ID!) { product(id: $id) { id name price { amount currency } } }';
    const twoOps = `${named} query Names($id: ID!) { product(id: $id) { name } }`;
    const before = { executed: await inbound(gateway, 'executed'), shared: await inbound(gateway, 'shared') };
    const result = await Promise.all([
      post(gateway, { query: PRODUCT, variables: { id: 'p1' } }),
      post(gateway, { query: PRODUCT, variables: { id: 'p2' } }),
      post(gateway, { query: named, variables: { id: 'p1' } }),
      post(gateway, { query: twoOps, operationName: 'Kettle', variables: { id: 'p1' } }),
      post(gateway, { query: twoOps, operationName: 'Names', variables: { id: 'p1' } }),
    ]);
    expect((await inbound(gateway, 'executed')) - before.executed).toBe(5);
    expect((await inbound(gateway, 'shared')) - before.shared).toBe(0);
    expect(result.map((r) => r.data?.product)).toEqual([
      { id: 'p1', name: 'Kettle', price: { amount: 2500, currency: 'USD' } },
      { id: 'p2', name: 'Teapot', price: { amount: 1800, currency: 'USD' } },
      { id: 'p1', name: 'Kettle', price: { amount: 2500, currency: 'USD' } },
      { id: 'p1', name: 'Kettle', price: { amount: 2500, currency: 'USD' } },
      { name: 'Kettle' },
    ]);
  });

  it('never shares a query whose plan carries an identity between customers, even under concurrency with mixed customers', async () => {
    graph.orders.delayMs = HOLD_MS;
    graph.notifications.delayMs = HOLD_MS / 3;
    graph.inventory.delayMs = HOLD_MS / 3;
    const owner: Record<string, string> = { o1: 'alice', o2: 'bob' };
    const callers = Array.from({ length: 5 }, () => ['alice', 'bob', 'carol']).flat();
    const before = { executed: await inbound(gateway, 'executed'), shared: await inbound(gateway, 'shared') };
    // Every caller sends the very same two operations (same text, same variables): only the caller differs.
    const { count, result } = await received(graph.orders, () =>
      Promise.all(callers.flatMap((who) => ['o1', 'o2'].map(async (id) => ({ who, id, body: await post(gateway, { query: ORDER_WITH_NOTIFICATIONS, variables: { id } }, tokens[who]) })))),
    );
    // One run per (customer, order): shared within a customer, never across.
    expect(count).toBe(3 * 2);
    expect((await inbound(gateway, 'executed')) - before.executed).toBe(3 * 2);
    expect((await inbound(gateway, 'shared')) - before.shared).toBe(callers.length * 2 - 3 * 2);
    for (const { who, id, body } of result) {
      expect(body.errors).toBeUndefined();
      const order = body.data?.order as { id: string; customerId: string; notifications: { orderId: string }[] } | null;
      if (owner[id] !== who) {
        expect(order).toBeNull();
        continue;
      }
      expect(order).toMatchObject({ id, customerId: who });
      expect(order!.notifications.length).toBeGreaterThan(0);
      for (const n of order!.notifications) expect(n.orderId).toBe(id);
    }
  });

  it('shares over graphql-ws by the same rule, with HTTP requests too, and never across customers', async () => {
    graph.orders.delayMs = HOLD_MS;
    graph.notifications.delayMs = HOLD_MS / 3;
    graph.inventory.delayMs = HOLD_MS / 3;
    const alice = wsClient(gateway, { Authorization: `Bearer ${tokens.alice}` });
    const bob = wsClient(gateway, { Authorization: `Bearer ${tokens.bob}` });
    try {
      const ask = { query: ORDER_WITH_NOTIFICATIONS, variables: { id: 'o1' } };
      const before = { executed: await inbound(gateway, 'executed'), shared: await inbound(gateway, 'shared') };
      const { count, result } = await received(graph.orders, () => Promise.all([wsQuery(alice, ask), wsQuery(bob, ask), post(gateway, ask, tokens.alice), post(gateway, ask, tokens.bob)]));
      expect(count).toBe(2);
      expect((await inbound(gateway, 'executed')) - before.executed).toBe(2);
      expect((await inbound(gateway, 'shared')) - before.shared).toBe(2);
      const [aliceWs, bobWs, aliceHttp, bobHttp] = result;
      for (const r of [aliceWs, aliceHttp]) expect(r?.data?.order).toMatchObject({ id: 'o1', customerId: 'alice' });
      for (const r of [bobWs, bobHttp]) expect(r?.data?.order).toBeNull();
    } finally {
      await Promise.all([alice.dispose(), bob.dispose()]);
    }
  });

  it('an anonymous caller shares no personal query with a customer: it gets its own refusal', async () => {
    graph.orders.delayMs = HOLD_MS;
    const [alice, anonymous] = await Promise.all([post(gateway, { query: ORDER, variables: { id: 'o1' } }, tokens.alice), post(gateway, { query: ORDER, variables: { id: 'o1' } })]);
    expect(alice.errors).toBeUndefined();
    expect(alice.data?.order).toMatchObject({ id: 'o1', customerId: 'alice' });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('never shares mutations', async () => {
    graph.inventory.delayMs = HOLD_MS;
    const before = await inbound(gateway, 'shared');
    const { count } = await received(graph.inventory, () =>
      Promise.all(Array.from({ length: 4 }, () => post(gateway, { query: 'mutation { restock(productId: "p1", quantity: 1) { id } }' }, tokens.admin))),
    );
    expect(count).toBe(4);
    expect((await inbound(gateway, 'shared')) - before).toBe(0);
  });

  it('runs every query on its own when switched off (DEDUP_INBOUND=false)', async () => {
    graph.inventory.delayMs = HOLD_MS;
    const { count, result } = await received(graph.inventory, () => Promise.all(Array.from({ length: 5 }, () => post(off, { query: PRODUCT, variables: { id: 'p2' } }, tokens.bob))));
    expect(count).toBe(5);
    for (const r of result) expect(r.data?.product).toMatchObject({ id: 'p2', name: 'Teapot' });
    expect(await inbound(off, 'executed')).toBe(0);
    expect(await inbound(off, 'shared')).toBe(0);
  });
});
