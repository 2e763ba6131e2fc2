import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../src/server.js';
import { collect, eventually, startTestGateway, tokenFor, wsClient } from './fixtures/gateway.js';
import { startRedis, type TestRedis } from './fixtures/redis.js';
import { startTestGraph, type TestGraph } from './fixtures/subgraphs.js';

const ORDER_SUB = /* GraphQL */ `
  subscription OrderStatus($id: ID!, $after: Int) {
    orderStatusChanged(orderId: $id, after: $after) {
      status
      order { id lines { quantity product { name } } notifications { message } }
    }
  }
`;

describe('federated subscriptions over graphql-ws', () => {
  let redis: TestRedis;
  let graph: TestGraph;
  let gateway: RunningGateway;
  let alice: string;

  beforeAll(async () => {
    redis = await startRedis();
    graph = await startTestGraph();
    gateway = await startTestGateway(graph, redis.url, { WS_MAX_CONNECTIONS_PER_CLIENT: '100' });
    alice = await tokenFor('alice');
  });
  afterAll(async () => {
    await gateway?.close();
    await graph?.close();
    await redis?.close();
  });

  it('delivers each status change with fields from orders, inventory and notifications', async () => {
    const client = wsClient(gateway, { Authorization: `Bearer ${alice}`, 'x-correlation-id': 'ws-corr-1' });
    const sub = collect(client, { query: ORDER_SUB, variables: { id: 'o1' } });
    await sub.waitFor(1); // history replay: PENDING
    expect(graph.orders.correlationIds).toContain('ws-corr-1');
    graph.changeStatus('o1', 'INVENTORY_RESERVED');
    await sub.waitFor(2);
    const last = sub.results[1]!;
    expect(last.errors).toBeUndefined();
    expect(last.data).toEqual({
      orderStatusChanged: {
        status: 'INVENTORY_RESERVED',
        order: {
          id: 'o1',
          lines: [
            { quantity: 1, product: { name: 'Kettle' } },
            { quantity: 2, product: { name: 'Teapot' } },
          ],
          notifications: [{ message: 'Order o1 is pending' }, { message: 'Order o1 is inventory_reserved' }],
        },
      },
    });
    sub.unsubscribe();
    await eventually(() => gateway.subscriptions.upstreamCount === 0 && graph.orders.activeSubscriptions === 0, 5_000, 'teardown');
    await client.dispose();
  });

  it('50 clients on one order share one upstream subscription, and none remains after they leave', async () => {
    const before = graph.orders.subscribeCalls;
    const clients = Array.from({ length: 50 }, () => wsClient(gateway, { Authorization: `Bearer ${alice}` }));
    const subs = clients.map((c) => collect(c, { query: ORDER_SUB, variables: { id: 'o1' } }));
    await Promise.all(subs.map((s) => s.waitFor(2)));
    expect(graph.orders.subscribeCalls - before).toBe(1);
    expect(gateway.subscriptions.upstreamCount).toBe(1);
    const seq = graph.changeStatus('o1', 'PAYMENT_AUTHORIZED');
    await Promise.all(subs.map((s) => s.waitFor(seq)));
    for (const s of subs) expect(s.results.map((r) => (r.data as { orderStatusChanged: { status: string } }).orderStatusChanged.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED']);
    for (const s of subs) s.unsubscribe();
    await Promise.all(clients.map((c) => c.dispose()));
    await eventually(() => gateway.subscriptions.upstreamCount === 0 && graph.orders.activeSubscriptions === 0, 5_000, 'no upstream left');
  });

  it('resubscribes after an upstream drop with `after`, so nothing is lost or repeated', async () => {
    const client = wsClient(gateway, { Authorization: `Bearer ${alice}` });
    const sub = collect(client, { query: ORDER_SUB, variables: { id: 'o1' } });
    const already = graph.changeStatus('o1', 'CONFIRMED') ;
    await sub.waitFor(already);
    const calls = graph.orders.subscribeCalls;
    graph.orders.dropConnections();
    // A change while the gateway is reconnecting must still arrive, exactly once.
    graph.changeStatus('o1', 'CANCELLED');
    await eventually(() => graph.orders.subscribeCalls > calls, 5_000, 'resubscribe');
    await sub.waitFor(already + 1);
    const seq = graph.changeStatus('o1', 'REJECTED');
    await sub.waitFor(seq);
    const statuses = sub.results.map((r) => (r.data as { orderStatusChanged: { status: string } }).orderStatusChanged.status);
    expect(statuses).toEqual(['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED', 'CANCELLED', 'REJECTED']);
    sub.unsubscribe();
    await client.dispose();
    await eventually(() => gateway.subscriptions.upstreamCount === 0, 5_000, 'teardown');
  });

  it('passes `after` through: a reconnecting client gets only what it missed', async () => {
    const client = wsClient(gateway, { Authorization: `Bearer ${alice}` });
    const sub = collect(client, { query: ORDER_SUB, variables: { id: 'o1', after: 4 } });
    await sub.waitFor(2);
    expect(sub.results.map((r) => (r.data as { orderStatusChanged: { status: string } }).orderStatusChanged.status)).toEqual(['CANCELLED', 'REJECTED']);
    sub.unsubscribe();
    await client.dispose();
  });

  it('refuses another customer (as a missing order) and anonymous callers with the subgraph code', async () => {
    const bob = await tokenFor('bob');
    const client = wsClient(gateway, { Authorization: `Bearer ${bob}` });
    const sub = collect(client, { query: ORDER_SUB, variables: { id: 'o1' } });
    await sub.waitFor(1);
    expect(sub.results[0]!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await sub.waitForEnd();
    await client.dispose();

    const anon = wsClient(gateway);
    const anonSub = collect(anon, { query: ORDER_SUB, variables: { id: 'o1' } });
    await anonSub.waitFor(1);
    expect(anonSub.results[0]!.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await anon.dispose();
    await eventually(() => gateway.subscriptions.upstreamCount === 0, 5_000, 'teardown');
  });

  it('serves public subscriptions to anonymous clients, and queries over the same socket', async () => {
    const client = wsClient(gateway);
    const sub = collect(client, { query: 'subscription { stockChanged(productId: "p1") { id name stock { available } } }' });
    await eventually(() => graph.inventory.activeSubscriptions === 1, 5_000, 'upstream stock subscription');
    graph.changeStock('p1', 7);
    await sub.waitFor(1);
    expect(sub.results[0]!.data).toEqual({ stockChanged: { id: 'p1', name: 'Kettle', stock: { available: 7 } } });
    const query = collect(client, { query: '{ product(id: "p2") { name price { amount } } }' });
    await query.waitForEnd();
    expect(query.results[0]!.data).toEqual({ product: { name: 'Teapot', price: { amount: 1800 } } });
    sub.unsubscribe();
    await client.dispose();
  });

  it('refuses a too deep subscription before subscribing upstream', async () => {
    let deep = 'id';
    for (let i = 0; i < 7; i++) deep = `history { order { ${deep} } }`;
    const client = wsClient(gateway, { Authorization: `Bearer ${alice}` });
    const calls = graph.orders.subscribeCalls;
    const sub = collect(client, { query: `subscription { orderStatusChanged(orderId: "o1") { order { ${deep} } } }` });
    await sub.waitForEnd();
    expect((sub.error as { extensions?: { code?: string } }[])[0]?.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'depth', max: 12, actual: 17 });
    expect(graph.orders.subscribeCalls).toBe(calls);
    await client.dispose();
  });

  it('closes a connection with a bad token with 4403', async () => {
    let code = 0;
    const client = wsClient(gateway, { Authorization: 'Bearer not.a.token' }, { onClose: (c) => (code = c) });
    const sub = collect(client, { query: '{ product(id: "p1") { name } }' });
    await sub.waitForEnd();
    expect(code).toBe(4403);
    await client.dispose();
  });
});
