import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../src/server.js';
import { collect, startTestGateway, tokenFor, wsClient } from './fixtures/gateway.js';
import { startRedis, type TestRedis } from './fixtures/redis.js';
import { startTestGraph, type TestGraph } from './fixtures/subgraphs.js';

/**
 * The gateway's own plan executor against @apollo/gateway's (QUERY_EXECUTOR=stock), on the same
 * subgraphs: every answer, data and errors, must be the same.
 */

interface Body {
  data?: unknown;
  errors?: { message: string; path?: unknown[]; extensions?: { code?: string; serviceName?: string } }[];
  extensions?: unknown;
}

async function post(
  gateway: RunningGateway,
  body: Record<string, unknown>,
  token?: string,
  accept?: string,
): Promise<{ status: number; type: string | null; cacheControl: string | null; text: string; body: Body }> {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(accept ? { accept } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), cacheControl: res.headers.get('cache-control'), text, body: JSON.parse(text) as Body };
}

/** What must match: the data, and per error its message, path and code (stack traces differ by design). */
function comparable(r: { status: number; type: string | null; cacheControl: string | null; text: string; body: Body }) {
  return {
    status: r.status,
    type: r.type,
    cacheControl: r.cacheControl,
    // Apollo Server's shape: errors, then data, then extensions, and a newline.
    keys: Object.keys(r.body),
    newline: r.text.endsWith('\n'),
    data: r.body.data,
    errors: r.body.errors?.map((e) => ({ message: e.message, path: e.path, code: e.extensions?.code })),
  };
}

const ORDER_FIELDS = 'id status total { amount currency } lines { quantity unitPrice { amount } product { id name price { amount } } }';

const CASES: { name: string; who?: 'alice' | 'bob' | 'admin'; accept?: string; body: Record<string, unknown> }[] = [
  { name: 'only __typename', body: { query: '{ __typename }' } },
  {
    name: 'graphql-response+json when the client prefers it',
    who: 'alice',
    accept: 'application/graphql-response+json, application/json;q=0.9',
    body: { query: `query($id: ID!) { order(id: $id) { id } }`, variables: { id: 'o1' } },
  },
  { name: 'a variable of the wrong type (left to Apollo Server)', who: 'alice', body: { query: `query($id: ID!) { order(id: $id) { id } }`, variables: { id: { no: 1 } } } },
  { name: 'a validation error (left to Apollo Server)', who: 'alice', body: { query: `{ order(id: "o1") { nope } }` } },
  { name: 'an order with its lines and products (orders, then inventory)', who: 'alice', body: { query: `query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`, variables: { id: 'o1' } } },
  {
    name: 'aliases, fragments, __typename and three subgraphs',
    who: 'alice',
    body: {
      query: `query Mine($id: ID!) { mine: order(id: $id) { __typename ...F lines { qty: quantity product { __typename ... on Product { title: name } } } notifications { message kind } } }
              fragment F on Order { id state: status }`,
      variables: { id: 'o1' },
    },
  },
  {
    name: '@include and @skip driven by variables',
    who: 'alice',
    body: {
      query: `query($id: ID!, $names: Boolean!, $notes: Boolean!) { order(id: $id) { id lines { product { id name @include(if: $names) } } notifications @skip(if: $notes) { message } } }`,
      variables: { id: 'o1', names: false, notes: true },
    },
  },
  {
    name: '@include and @skip the other way round',
    who: 'alice',
    body: {
      query: `query($id: ID!, $names: Boolean!, $notes: Boolean!) { order(id: $id) { id lines { product { id name @include(if: $names) } } notifications @skip(if: $notes) { message } } }`,
      variables: { id: 'o1', names: true, notes: false },
    },
  },
  { name: "another customer's order: null, as a missing one", who: 'bob', body: { query: `{ order(id: "o1") { ${ORDER_FIELDS} } }` } },
  { name: 'an admin-only list: FORBIDDEN at its path', who: 'bob', body: { query: `{ orders { edges { node { id } } } }` } },
  { name: 'an admin reads any order', who: 'admin', body: { query: `{ a: order(id: "o1") { id } b: order(id: "o2") { id lines { product { name } } } }` } },
  { name: 'a missing order is null', who: 'alice', body: { query: `{ order(id: "nope") { id } }` } },
  { name: 'anonymous: UNAUTHENTICATED', body: { query: `{ order(id: "o1") { id } }` } },
  { name: 'a public product', body: { query: `{ product(id: "p1") { id name price { amount currency } } missing: product(id: "p9") { id } }` } },
  { name: 'two operations, one chosen by name', who: 'alice', body: { query: `query A { product(id: "p2") { name } } query B { order(id: "o1") { status } }`, operationName: 'B' } },
  { name: 'introspection next to data', body: { query: `{ __typename __type(name: "Product") { name } product(id: "p1") { name } }` } },
];

describe('the gateway executor answers exactly as the stock one', () => {
  let redis: TestRedis;
  let graph: TestGraph;
  let fast: RunningGateway;
  let stock: RunningGateway;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    redis = await startRedis();
    graph = await startTestGraph();
    fast = await startTestGateway(graph, redis.url, { QUERY_EXECUTOR: 'fast' });
    stock = await startTestGateway(graph, redis.url, { QUERY_EXECUTOR: 'stock' });
    tokens.alice = await tokenFor('alice');
    tokens.bob = await tokenFor('bob');
    tokens.admin = await tokenFor('root', ['admin']);
  });
  afterAll(async () => {
    await fast?.close();
    await stock?.close();
    // Inventory is already closed by the last test.
    await graph?.close().catch(() => undefined);
    await redis?.close();
  });

  const plans = async (gateway: RunningGateway, executor: 'fast' | 'stock') => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    return Number(new RegExp(`^gateway_query_plans_executed_total\\{executor="${executor}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  for (const c of CASES) {
    it(c.name, async () => {
      const token = c.who ? tokens[c.who] : undefined;
      const before = await plans(fast, 'fast');
      const [a, b] = await Promise.all([post(fast, c.body, token, c.accept), post(stock, c.body, token, c.accept)]);
      // Introspection and invalid requests are left to the stock executor or Apollo Server; the rest runs on ours.
      const ours = !(c.body.query as string).includes('__type(') && !c.name.includes('left to Apollo Server');
      expect(await plans(fast, 'fast')).toBe(ours ? before + 1 : before);
      expect(comparable(a)).toEqual(comparable(b));
      // Every case answers something: data or errors.
      expect(a.body.data !== undefined || (a.body.errors?.length ?? 0) > 0).toBe(true);
    });
  }

  it('treats a __proto__ alias as an ordinary key: same answer as stock, Object.prototype untouched', async () => {
    const body = { query: '{ order(id: "o1") { id lines { product { id __proto__: price { polluted: currency } } } } }' };
    const [a, b] = await Promise.all([post(fast, body, tokens.alice), post(stock, body, tokens.alice)]);
    expect(comparable(a)).toEqual(comparable(b));
    expect(a.text).toContain('"__proto__":{"polluted":"USD"}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('resolves subscription events the same way, fields from three subgraphs included', async () => {
    const query = `subscription($id: ID!) { orderStatusChanged(orderId: $id) { status s: sequence order { id lines { quantity product { name } } notifications { message } } } }`;
    const clients = [wsClient(fast, { Authorization: `Bearer ${tokens.alice}` }), wsClient(stock, { Authorization: `Bearer ${tokens.alice}` })];
    const [a, b] = clients.map((client) => collect(client, { query, variables: { id: 'o1' } }));
    await Promise.all([a!.waitFor(1), b!.waitFor(1)]);
    graph.changeStatus('o1', 'INVENTORY_RESERVED');
    await Promise.all([a!.waitFor(2), b!.waitFor(2)]);
    expect(a!.results).toEqual(b!.results);
    expect(a!.results[1]?.data).toMatchObject({ orderStatusChanged: { status: 'INVENTORY_RESERVED', order: { lines: [{ product: { name: 'Kettle' } }, { product: { name: 'Teapot' } }] } } });
    a!.unsubscribe();
    b!.unsubscribe();
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('reports a subgraph that is down as UPSTREAM_UNAVAILABLE for its part, with the same data as the stock executor', async () => {
    await graph.inventory.close();
    const body = { query: `{ order(id: "o1") { id lines { quantity product { name } } } }` };
    const [a, b] = await Promise.all([post(fast, body, tokens.alice), post(stock, body, tokens.alice)]);
    expect(a.body.data).toEqual(b.body.data);
    expect(a.body.errors?.map((e) => [e.extensions?.code, e.extensions?.serviceName])).toEqual([['UPSTREAM_UNAVAILABLE', 'inventory']]);
    expect(a.body.errors?.[0]?.message).toBe('Subgraph inventory is unavailable.');
  });
});
