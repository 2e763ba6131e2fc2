import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../src/server.js';
import { DEFAULT_SUPERGRAPH_PATH } from '../src/supergraph/compose.js';
import { collect, DEV_SIGNING, eventually, startTestGateway, tokenFor, wsClient } from './fixtures/gateway.js';
import { startRedis, type TestRedis } from './fixtures/redis.js';
import { startTestGraph, type TestGraph } from './fixtures/subgraphs.js';

const PROD_JWT = 'prod-jwt-secret-for-tests-0123456789abcdef';
const PROD_IDENTITY = 'prod-identity-secret-for-tests-0123456789';

/** Opens a raw graphql-transport-ws socket and resolves with its close code. */
function rawSocket(gateway: RunningGateway, onOpen: (ws: WebSocket) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    ws.on('open', () => onOpen(ws));
    ws.on('close', (code) => resolve(code));
    ws.on('error', reject);
  });
}

describe('WebSocket limits, reload and shutdown (development)', () => {
  let redis: TestRedis;
  let graph: TestGraph;
  let gateway: RunningGateway;
  let dir: string;
  let supergraphPath: string;

  beforeAll(async () => {
    redis = await startRedis();
    graph = await startTestGraph();
    dir = await mkdtemp(join(tmpdir(), 'gateway-'));
    supergraphPath = join(dir, 'supergraph.graphql');
    await copyFile(DEFAULT_SUPERGRAPH_PATH, supergraphPath);
    gateway = await startTestGateway(graph, redis.url, {
      WS_MAX_CONNECTIONS_PER_CLIENT: '2',
      WS_MAX_MESSAGE_BYTES: '2048',
      SUPERGRAPH_PATH: supergraphPath,
      SUPERGRAPH_WATCH: 'true',
      SHUTDOWN_GRACE: '1s',
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await graph?.close();
    await redis?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('closes connections beyond the per-client maximum with 4429', async () => {
    const token = await tokenFor('frank');
    const codes: number[] = [];
    const clients = [0, 1, 2].map(() => wsClient(gateway, { Authorization: `Bearer ${token}` }, { onClose: (c) => codes.push(c) }));
    const first = [collect(clients[0]!, { query: 'subscription { stockChanged(productId: "p1") { name } }' }), collect(clients[1]!, { query: 'subscription { stockChanged(productId: "p1") { name } }' })];
    await eventually(() => graph.inventory.activeSubscriptions === 1, 5_000, 'two connections up');
    const third = collect(clients[2]!, { query: '{ product(id: "p1") { name } }' });
    await third.waitForEnd();
    expect(codes).toContain(4429);
    first.forEach((s) => s.unsubscribe());
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('closes a socket that sends a message over the size limit with 1009', async () => {
    const code = await rawSocket(gateway, (ws) => {
      ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
      ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `{ product(id: "${'x'.repeat(4096)}") { name } }` } }));
    });
    expect(code).toBe(1009);
  });

  it('reloads the supergraph file when it changes', async () => {
    const fields = async () => {
      const res = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __type(name: "Stock") { fields { name } } }' }),
      });
      const body = (await res.json()) as { data: { __type: { fields: { name: string }[] } } };
      return body.data.__type.fields.map((f) => f.name);
    };
    expect(await fields()).toContain('sold');
    const sdl = await readFile(supergraphPath, 'utf8');
    await writeFile(supergraphPath, sdl.replace('  """Units of confirmed orders."""\n  sold: Int!\n', ''));
    await eventually(async () => !(await fields()).includes('sold'), 10_000, 'reload');
  });

  it('closes WebSockets with 1001 on shutdown', async () => {
    let code = 0;
    const client = wsClient(gateway, {}, { onClose: (c) => (code = c) });
    const sub = collect(client, { query: 'subscription { stockChanged(productId: "p2") { name } }' });
    await eventually(() => graph.inventory.activeSubscriptions >= 1 && gateway.subscriptions.upstreamCount === 1, 5_000, 'subscribed');
    const started = Date.now();
    await gateway.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    await eventually(() => code !== 0, 5_000, 'close event');
    expect(code).toBe(1001);
    expect(gateway.subscriptions.upstreamCount).toBe(0);
    await eventually(() => graph.inventory.activeSubscriptions === 0, 5_000, 'upstream released');
    void sub;
    await client.dispose();
  });
});

describe('production mode', () => {
  let redis: TestRedis;
  let graph: TestGraph;
  let gateway: RunningGateway;

  beforeAll(async () => {
    redis = await startRedis();
    graph = await startTestGraph({ identitySecret: PROD_IDENTITY });
    gateway = await startTestGateway(graph, redis.url, { NODE_ENV: 'production', JWT_SECRET: PROD_JWT, IDENTITY_SECRET: PROD_IDENTITY, SHUTDOWN_GRACE: '1s' });
  });
  afterAll(async () => {
    await gateway?.close();
    await graph?.close();
    await redis?.close();
  });

  it('refuses the development token endpoint', async () => {
    expect((await fetch(`${gateway.url}/auth/dev-token?sub=alice`)).status).toBe(404);
  });

  it('shows no landing page and refuses introspection', async () => {
    const page = await fetch(`${gateway.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/sandbox/i);
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __schema { types { name } } }' }),
    });
    const body = (await res.json()) as { errors?: { message: string }[] };
    expect(body.errors?.[0]?.message).toMatch(/introspection/i);
  });

  it('still serves queries with the production secrets', async () => {
    const { signDevToken } = await import('../src/middleware/auth.js');
    const token = await signDevToken({ ...DEV_SIGNING, jwtSecret: PROD_JWT }, 'alice');
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ order(id: "o1") { id lines { product { name } } } }' }),
    });
    expect(((await res.json()) as { data: unknown }).data).toEqual({ order: { id: 'o1', lines: [{ product: { name: 'Kettle' } }, { product: { name: 'Teapot' } }] } });
  });
});

describe('an upstream that cannot be reached', () => {
  let redis: TestRedis;
  let graph: TestGraph;
  let gateway: RunningGateway;

  beforeAll(async () => {
    redis = await startRedis();
    graph = await startTestGraph();
    const { freePort } = await import('./fixtures/redis.js');
    const dead = await freePort();
    gateway = await startTestGateway(graph, redis.url, { ORDERS_URL: `http://127.0.0.1:${dead}/graphql`, UPSTREAM_RETRY_ATTEMPTS: '2', SHUTDOWN_GRACE: '1s' });
  });
  afterAll(async () => {
    await gateway?.close();
    await graph?.close();
    await redis?.close();
  });

  it('ends the subscription with an UPSTREAM_UNAVAILABLE error, never silence', async () => {
    const client = wsClient(gateway, { Authorization: `Bearer ${await tokenFor('alice')}` });
    const sub = collect(client, { query: 'subscription { orderStatusChanged(orderId: "o1") { status } }' });
    await sub.waitForEnd(10_000);
    expect(sub.results.at(-1)?.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(gateway.subscriptions.upstreamCount).toBe(0);
    await client.dispose();
  });
});
