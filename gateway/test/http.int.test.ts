import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_SECRETS } from '@shop/service-kit';
import type { RunningGateway } from '../src/server.js';
import { eventually, startTestGateway, tokenFor } from './fixtures/gateway.js';
import { startRedis, type TestRedis } from './fixtures/redis.js';
import { startTestGraph, type TestGraph } from './fixtures/subgraphs.js';

interface GqlBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
}

describe('gateway over HTTP', () => {
  let redis: TestRedis;
  let graph: TestGraph;
  let gateway: RunningGateway;
  let alice: string;

  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { res, body: (await res.json()) as GqlBody };
  };

  beforeAll(async () => {
    redis = await startRedis();
    graph = await startTestGraph();
    gateway = await startTestGateway(graph, redis.url, { MAX_DEPTH: '6', MAX_ALIASES: '3', MAX_COST: '300', MAX_BODY_BYTES: '4096', SHUTDOWN_GRACE: '1s', DEV_TOKENS: 'true' });
    alice = await tokenFor('alice');
  });
  afterAll(async () => {
    await gateway?.close();
    await graph?.close();
    await redis?.close();
  });

  it('runs a federated query with the caller identity and echoes the correlation id', async () => {
    const { res, body } = await post(
      { query: '{ order(id: "o1") { id status lines { quantity product { name } } notifications { message } } }' },
      { authorization: `Bearer ${alice}`, 'x-correlation-id': 'test-corr-1' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-correlation-id')).toBe('test-corr-1');
    expect(graph.orders.correlationIds).toContain('test-corr-1');
    expect(graph.inventory.correlationIds).toContain('test-corr-1');
    expect(body.errors).toBeUndefined();
    expect(body.data).toMatchObject({ order: { id: 'o1', lines: [{ product: { name: 'Kettle' } }, { product: { name: 'Teapot' } }] } });
  });

  it('lets anonymous callers read the catalog but not personal data', async () => {
    const catalog = await post({ query: '{ product(id: "p1") { name } }' });
    expect(catalog.body.data).toEqual({ product: { name: 'Kettle' } });
    expect(catalog.res.headers.get('x-correlation-id')).toMatch(/.+/);
    const order = await post({ query: '{ order(id: "o1") { id } }' });
    expect(order.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("answers another customer's order as a missing one, and lets an admin read it", async () => {
    const bob = await post({ query: '{ order(id: "o1") { id } }' }, { authorization: `Bearer ${await tokenFor('bob')}` });
    expect(bob.body).toEqual({ data: { order: null } });
    const admin = await post({ query: '{ order(id: "o1") { id } }' }, { authorization: `Bearer ${await tokenFor('root', ['admin'])}` });
    expect(admin.body.data).toEqual({ order: { id: 'o1' } });
  });

  it('answers 401 UNAUTHENTICATED for a bad, expired or unsigned token', async () => {
    const secret = new TextEncoder().encode(DEV_SECRETS.jwt);
    const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuedAt(1_000).setExpirationTime(2_000).sign(secret);
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', roles: ['admin'] })}.`;
    const wrongKey = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime('1h').sign(new TextEncoder().encode('x'.repeat(40)));
    for (const token of ['garbage', expired, none, wrongKey]) {
      const { res, body } = await post({ query: '{ product(id: "p1") { name } }' }, { authorization: `Bearer ${token}` });
      expect(res.status).toBe(401);
      expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses too deep, too aliased and too costly operations before planning', async () => {
    const deepQuery = { query: '{ order(id: "o1") { history { order { history { order { history { order { id } } } } } } } }' };
    const deep = await post(deepQuery, { authorization: `Bearer ${alice}`, accept: 'application/graphql-response+json' });
    expect(deep.res.status).toBe(400);
    expect(deep.res.headers.get('content-type')).toContain('application/graphql-response+json');
    // Accepting only application/json, the refusal comes with 200 (GraphQL over HTTP, for legacy clients).
    const legacy = await post(deepQuery, { authorization: `Bearer ${alice}`, accept: 'application/json' });
    expect(legacy.res.status).toBe(200);
    expect(legacy.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'depth' });
    expect(deep.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'depth' });
    const aliased = await post({ query: '{ a: product(id: "p1") { name } b: product(id: "p1") { name } c: product(id: "p1") { name } d: product(id: "p1") { name } }' });
    expect(aliased.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'aliases' });
    const costly = await post({ query: '{ products(first: 100) { edges { node { name price { amount } } } } }' });
    expect(costly.body.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'cost' });
  });

  it('refuses a body over the limit with 413', async () => {
    const { res, body } = await post({ query: `{ product(id: "${'x'.repeat(5000)}") { name } }` });
    expect(res.status).toBe(413);
    expect(body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses batched requests', async () => {
    const { res } = await post([{ query: '{ product(id: "p1") { name } }' }, { query: '{ product(id: "p2") { name } }' }]);
    expect(res.status).toBe(400);
  });

  it('applies CSRF prevention to GET requests', async () => {
    const url = `${gateway.url}/graphql?query=${encodeURIComponent('{ product(id: "p1") { name } }')}`;
    expect((await fetch(url)).status).toBe(400);
    const ok = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as GqlBody).data).toEqual({ product: { name: 'Kettle' } });
  });

  it('supports automatic persisted queries', async () => {
    const query = '{ product(id: "p2") { name } }';
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    const miss = await post({ extensions });
    expect(miss.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const register = await post({ query, extensions });
    expect(register.body.data).toEqual({ product: { name: 'Teapot' } });
    const hit = await post({ extensions });
    expect(hit.body.data).toEqual({ product: { name: 'Teapot' } });
  });

  it('answers CORS preflights for local and listed origins only', async () => {
    const preflight = (origin: string) =>
      fetch(`${gateway.url}/graphql`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
      });
    const local = await preflight('http://localhost:5173');
    expect(local.status).toBe(204);
    expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(local.headers.get('access-control-allow-headers')).toContain('authorization');
    const foreign = await preflight('https://evil.example');
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('serves the Sandbox landing page in development', async () => {
    const res = await fetch(`${gateway.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/sandbox/i);
  });

  it('mints development tokens', async () => {
    const res = await fetch(`${gateway.url}/auth/dev-token?sub=carol&roles=admin`);
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; roles: string[]; exp: number; iat: number };
    expect(payload).toMatchObject({ sub: 'carol', roles: ['admin'] });
    expect(payload.exp - payload.iat).toBe(12 * 3600);
    const admin = await post({ query: '{ order(id: "o2") { id } }' }, { authorization: `Bearer ${token}` });
    expect(admin.body.data).toEqual({ order: { id: 'o2' } });
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { redis: 'ok', orders: 'ok', inventory: 'ok', notifications: 'ok' } });
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/^gateway_requests_total\{type="query",transport="http",outcome="ok"\} [1-9]/m);
    // Bounded labels: the client's operation names never become series.
    expect(metrics).not.toMatch(/gateway_request[^\n]*operation=/);
    expect(metrics).toContain('gateway_request_duration_seconds_bucket');
    expect(metrics).toContain('gateway_active_subscriptions');
    expect(metrics).toContain('gateway_active_upstream_subscriptions');
    expect(metrics).toContain('gateway_upstream_errors_total');
  });

  it('streams a subscription over multipart HTTP', async () => {
    const controller = new AbortController();
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', accept: 'multipart/mixed;subscriptionSpec=1.0, application/json', authorization: `Bearer ${alice}` },
      body: JSON.stringify({ query: 'subscription { orderStatusChanged(orderId: "o1") { status order { lines { product { name } } } } }' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('multipart/mixed');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const payloads = () =>
      text
        .split('\r\n--graphql')
        .map((p) => p.split('\r\n\r\n')[1])
        .filter((p): p is string => !!p && p.trim() !== '{}')
        .map((p) => JSON.parse(p) as { payload: GqlBody | null });
    const readUntil = async (n: number) => {
      while (payloads().length < n) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended: ${text}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil(1);
    expect(text.startsWith('\r\n--graphql\r\ncontent-type: application/json\r\n\r\n{}')).toBe(true);
    graph.changeStatus('o1', 'INVENTORY_RESERVED');
    await readUntil(2);
    expect(payloads()[1]).toEqual({
      payload: { data: { orderStatusChanged: { status: 'INVENTORY_RESERVED', order: { lines: [{ product: { name: 'Kettle' } }, { product: { name: 'Teapot' } }] } } } },
    });
    controller.abort();
    await eventually(() => gateway.subscriptions.upstreamCount === 0, 5_000, 'multipart teardown');
  });

  it('ends a refused multipart subscription with a payload:null error part', async () => {
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'multipart/mixed;subscriptionSpec=1.0, application/json' },
      body: JSON.stringify({ query: 'subscription { orderStatusChanged(orderId: "o1") { status } }' }),
    });
    const text = await res.text();
    expect(text).toContain('"payload":null');
    expect(text).toContain('UNAUTHENTICATED');
    expect(text.endsWith('\r\n--graphql--\r\n')).toBe(true);
  });
});

describe('rate limit', () => {
  let redis: TestRedis;
  let graph: TestGraph;
  let gateway: RunningGateway;
  beforeAll(async () => {
    redis = await startRedis();
    graph = await startTestGraph();
    gateway = await startTestGateway(graph, redis.url, { RATE_LIMIT: '5', RATE_LIMIT_WINDOW: '60s', SHUTDOWN_GRACE: '1s' });
  });
  afterAll(async () => {
    await gateway?.close();
    await graph?.close();
    await redis?.close();
  });

  it('answers 429 RATE_LIMITED past the per-customer limit, counted separately per customer', async () => {
    const call = async (token?: string) =>
      fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query: '{ product(id: "p1") { name } }' }),
      });
    const dave = await tokenFor('dave');
    for (let i = 0; i < 5; i++) expect((await call(dave)).status).toBe(200);
    const limited = await call(dave);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await limited.json()) as GqlBody).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect((await call(await tokenFor('erin'))).status).toBe(200);
  });
});
