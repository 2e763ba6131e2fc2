import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createErrorFormatter } from '../error-masking.js';
import { SubgraphClient } from '../execution/subgraph-client.js';
import { createMetrics } from '../metrics.js';
import { Engine, type EngineOptions } from './engine.js';

const SDL = readFileSync(fileURLToPath(new URL('../../supergraph.graphql', import.meta.url)), 'utf8');

function engine(overrides: Partial<EngineOptions> = {}): { engine: Engine; client: SubgraphClient } {
  const metrics = createMetrics();
  const client = new SubgraphClient('x'.repeat(32), metrics);
  const e = new Engine({
    limits: { maxDepth: 6, maxAliases: 3, maxCost: 300 },
    production: false,
    executor: 'fast',
    client,
    metrics,
    formatError: createErrorFormatter(false),
    subgraphUrls: {},
    identitySecret: 'x'.repeat(32),
    upstreamRetryAttempts: 0,
    ...overrides,
  });
  e.load(SDL);
  return { engine: e, client };
}

const codes = (r: ReturnType<Engine['prepare']>) => ('errors' in r ? r.errors.map((e) => e.extensions.code) : []);

describe('the engine', () => {
  it("routes to the supergraph's subgraphs, configured replicas replacing one's URL, and refuses a bad one naming its variable", () => {
    const { client } = engine({ subgraphUrls: { orders: ['http://10.0.0.5:4001/graphql', 'http://10.0.0.6:4001/graphql'], unrelated: ['not a url'] } });
    expect([...client.subgraphs].sort()).toEqual(['inventory', 'notifications', 'orders']);
    expect(client.replicasOf('orders')).toEqual(['http://10.0.0.5:4001/graphql', 'http://10.0.0.6:4001/graphql']);
    expect(client.replicasOf('inventory')).toEqual(['http://127.0.0.1:4002/graphql']);
    expect(() => engine({ subgraphUrls: { orders: ['http://10.0.0.5:4001/graphql', 'not a url'] } })).toThrow(/ORDERS_URL: expected an http\(s\) URL, got not a url/);
  });

  it('tells a malformed request from a GraphQL request error', () => {
    const { engine: e } = engine();
    const malformed = e.prepare({ query: 12 }, 'http');
    expect('errors' in malformed && malformed.malformed).toBe(true);
    expect(codes(malformed)).toEqual(['BAD_REQUEST']);
    const parse = e.prepare({ query: '{ product(id: "p1") { name }' }, 'http');
    expect('errors' in parse && !parse.malformed && parse.status).toBe(400);
    expect(codes(parse)).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(codes(e.prepare({ query: '{ nope }' }, 'http'))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codes(e.prepare({ query: 'query A { __typename } query B { __typename }' }, 'http'))).toEqual(['OPERATION_RESOLUTION_FAILURE']);
    expect(codes(e.prepare({ query: 'query($id: ID!) { product(id: $id) { name } }', variables: { id: { no: 1 } } }, 'http'))).toEqual(['BAD_USER_INPUT']);
    expect(codes(e.prepare({ query: '{ a: __typename b: __typename c: __typename d: __typename }' }, 'http'))).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('prepares queries with their plan and subscriptions with theirs, from the same request shape', () => {
    const { engine: e } = engine();
    const query = e.prepare({ query: 'query($id: ID!) { order(id: $id) { id lines { product { name } } } }', variables: { id: 'o1' } }, 'http');
    expect('planned' in query && query.type === 'query' && query.planned?.fast).toBe(true);
    const subscription = e.prepare({ query: 'subscription { orderStatusChanged(orderId: "o1") { status } }' }, 'ws');
    expect('subscription' in subscription && subscription.subscription?.node.primary.serviceName).toBe('orders');
  });

  it('resolves automatic persisted queries, refusing a hash that is not the text', () => {
    const { engine: e } = engine();
    const text = '{ product(id: "p1") { name } }';
    const persistedQuery = { version: 1, sha256Hash: createHash('sha256').update(text).digest('hex') };
    expect(codes(e.prepare({ extensions: { persistedQuery } }, 'http'))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    expect('planned' in e.prepare({ query: text, extensions: { persistedQuery } }, 'http')).toBe(true);
    const hit = e.prepare({ extensions: { persistedQuery } }, 'ws');
    expect('query' in hit && hit.query).toBe(text);
    expect(codes(e.prepare({ query: '{ __typename }', extensions: { persistedQuery } }, 'http'))).toEqual(['BAD_REQUEST']);
  });

  it('refuses introspection in production', () => {
    const { engine: e } = engine({ production: true });
    const refused = e.prepare({ query: '{ __schema { types { name } } }' }, 'http');
    expect(new Set(codes(refused))).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
    expect('errors' in refused && refused.errors[0]?.message).toMatch(/introspection/i);
  });
});
