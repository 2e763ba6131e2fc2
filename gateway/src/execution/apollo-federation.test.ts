import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FetchNode, PlanNode, SubscriptionNode } from '@apollo/query-planner';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parse } from '../graphql.js';
import type { GatewayContext } from '../context.js';
import { buildPlanning, executeStock, operationOf, planOperation, shapeResult, type SubgraphCall } from './apollo-federation.js';

/**
 * What the gateway relies on from the pinned Apollo Federation packages, checked against the
 * committed supergraph: when an upgrade changes any of it, these fail before a client notices.
 */
const require = createRequire(import.meta.url);
const SDL = readFileSync(fileURLToPath(new URL('../../supergraph.graphql', import.meta.url)), 'utf8');
const planning = buildPlanning(SDL, { validate: true });
const context: GatewayContext = { identity: null, correlationId: 'test', logger: pino({ level: 'silent' }) };
const ORDER_QUERY = 'query($id: ID!) { o: order(id: $id) { id lines { quantity product { name } } } }';

describe('the Apollo Federation adapter', () => {
  it('runs on the versions it was written against (result shaping is not public API: re-check it on any change)', () => {
    const pinned = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of ['@apollo/gateway', '@apollo/federation-internals', '@apollo/query-planner']) {
      expect((require(`${name}/package.json`) as { version: string }).version, name).toBe('2.14.4');
      expect(pinned.dependencies[name], name).toBe('2.14.4');
    }
  });

  it('reads the subgraphs, their URLs and the API schema from the supergraph', () => {
    expect(planning.subgraphs.map((s) => s.name).sort()).toEqual(['inventory', 'notifications', 'orders']);
    expect(planning.subgraphs.find((s) => s.name === 'orders')?.url).toBe('http://127.0.0.1:4001/graphql');
    expect(planning.schema.getQueryType()?.getFields().order).toBeDefined();
    // join__ machinery is the supergraph's, not the API's.
    expect(planning.schema.getType('join__Graph')).toBeUndefined();
    expect(planning.supergraphSchema.getType('join__Graph')).toBeDefined();
  });

  it('plans a federated query as a fetch from orders, then an entity fetch from inventory', () => {
    const { plan } = planOperation(planning, parse(ORDER_QUERY), undefined);
    const node = plan.node as PlanNode & { kind: 'Sequence' };
    expect(node.kind).toBe('Sequence');
    const [first, second] = node.nodes as [FetchNode, PlanNode & { kind: 'Flatten'; node: FetchNode }];
    expect([first.kind, first.serviceName]).toEqual(['Fetch', 'orders']);
    expect([second.kind, second.path, second.node.serviceName]).toEqual(['Flatten', ['o', 'lines', '@', 'product'], 'inventory']);
    expect(second.node.requires).toBeDefined();
    const subscription = planOperation(planning, parse('subscription { orderStatusChanged(orderId: "o1") { status order { lines { product { name } } } } }'), undefined).plan.node as SubscriptionNode;
    expect([subscription.kind, subscription.primary.serviceName]).toEqual(['Subscription', 'orders']);
    expect(JSON.stringify(subscription.rest)).toContain('"serviceName":"inventory"');
  });

  it('shapes merged data as the stock gateway does: aliases, field order, __typename, null propagation', () => {
    const operation = operationOf(planning, parse('{ o: order(id: "o1") { __typename lines { quantity } id } }'), undefined)!;
    const shaped = shapeResult(operation, {}, { o: { id: 'o1', lines: [{ quantity: 2, extra: true }], __typename: 'Order' } });
    expect(JSON.stringify(shaped.data)).toBe('{"o":{"__typename":"Order","lines":[{"quantity":2}],"id":"o1"}}');
    expect(shaped.errors).toEqual([]);
    // `id: ID!` missing: the nullable parent becomes null, and the break is reported.
    const broken = shapeResult(operation, {}, { o: { lines: [], __typename: 'Order' } });
    expect(broken.data).toEqual({ o: null });
    expect(broken.errors.map((e) => e.path)).toEqual([['o', 'id']]);
  });

  it("runs a plan on the stock executor through the gateway's subgraph calls, and resolves a subscription event", async () => {
    const calls: string[] = [];
    const call: SubgraphCall = async (subgraph, request) => {
      calls.push(subgraph);
      if (subgraph === 'orders') return { data: { o: { __typename: 'Order', id: 'o1', lines: [{ quantity: 1, product: { __typename: 'Product', id: 'p1' } }] } } };
      const representations = request.variables.representations as { id: string }[];
      return { data: { _entities: representations.map((r) => ({ name: `name of ${r.id}` })) } };
    };
    const document = parse(ORDER_QUERY);
    const { plan } = planOperation(planning, document, undefined);
    const run = { document, query: ORDER_QUERY, operationName: undefined, variables: { id: 'o1' }, context };
    const result = await executeStock(planning, plan, call, run);
    expect(calls).toEqual(['orders', 'inventory']);
    expect(result.data).toEqual({ o: { id: 'o1', lines: [{ quantity: 1, product: { name: 'name of p1' } }] } });

    const subscriptionText = 'subscription { orderStatusChanged(orderId: "o1") { status order { lines { product { name } } } } }';
    const subscriptionDocument = parse(subscriptionText);
    const node = planOperation(planning, subscriptionDocument, undefined).plan.node as SubscriptionNode;
    calls.length = 0;
    const eventCall: SubgraphCall = async (subgraph) => {
      calls.push(subgraph);
      return { data: { _entities: [{ name: 'Teapot' }] } };
    };
    // The event as the orders subgraph sends it: the products only as references.
    const event = { primary: node.primary, rest: node.rest, data: { orderStatusChanged: { status: 'PENDING', order: { lines: [{ product: { __typename: 'Product', id: 'p2' } }] } } } };
    const resolved = await executeStock(planning, { kind: 'QueryPlan' }, eventCall, { ...run, document: subscriptionDocument, query: subscriptionText, variables: {} }, event);
    expect(resolved.errors).toBeUndefined();
    expect(resolved.data).toEqual({ orderStatusChanged: { status: 'PENDING', order: { lines: [{ product: { name: 'Teapot' } }] } } });
    // The event stood in for the primary fetch: only inventory was called.
    expect(calls).toEqual(['inventory']);
  });
});
