import { auditServer } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../src/server.js';
import { startTestGateway } from './fixtures/gateway.js';
import { startRedis, type TestRedis } from './fixtures/redis.js';
import { startTestGraph, type TestGraph } from './fixtures/subgraphs.js';

/** The GraphQL-over-HTTP audit (graphql-http's `auditServer`) against the running gateway: every MUST and every SHOULD. */
describe('GraphQL over HTTP audit', () => {
  let redis: TestRedis;
  let graph: TestGraph;
  let gateway: RunningGateway;

  beforeAll(async () => {
    redis = await startRedis();
    graph = await startTestGraph();
    gateway = await startTestGateway(graph, redis.url);
  });
  afterAll(async () => {
    await gateway?.close();
    await graph?.close();
    await redis?.close();
  });

  it('passes every MUST and SHOULD (the MAYs about GET without a preflight header are refused by CSRF prevention)', async () => {
    const results = await auditServer({ url: `${gateway.url}/graphql` });
    expect(results.length).toBeGreaterThan(30);
    const failed = results.filter((r) => r.status !== 'ok' && !r.name.startsWith('MAY ')).map((r) => `${r.name}: ${r.status === 'ok' ? '' : r.reason}`);
    expect(failed).toEqual([]);
  });
});
