// Hostile input against the gateway alone (real Redis, small real subgraphs): what a client can do
// to the gateway itself. The whole-system hostile suite is test/chaos/hostile.test.ts.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { pino } from 'pino';
import type { RunningGateway } from '../src/server.js';
import { eventually, startTestGateway, tokenFor } from './fixtures/gateway.js';
import { startRedis, type TestRedis } from './fixtures/redis.js';
import { LEAKED_DETAIL, LEAKY_PRODUCT, startTestGraph, type TestGraph } from './fixtures/subgraphs.js';

const PROD_JWT = 'prod-jwt-secret-0123456789abcdef-0123456789';
const PROD_IDENTITY = 'prod-identity-secret-0123456789abcdef-01234';
const MULTIPART = 'multipart/mixed;subscriptionSpec=1.0, application/json';

interface Body {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

async function post(gateway: RunningGateway, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Body; text: string }> {
  const res = await fetch(`${gateway.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let parsed: Body = {};
  try {
    parsed = JSON.parse(text) as Body;
  } catch {
    // a multipart stream, or nothing
  }
  return { status: res.status, body: parsed, text };
}

/** A multipart subscription read to its end (or until `timeoutMs`): status, and the parts after the first heartbeat. */
async function multipart(gateway: RunningGateway, body: unknown, headers: Record<string, string>, timeoutMs = 8_000) {
  const res = await fetch(`${gateway.url}/graphql`, { method: 'POST', headers: { accept: MULTIPART, ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text().catch((err: Error) => `<aborted: ${err.name}>`);
  const parts = text
    .split('\r\n--graphql')
    .map((p) => p.split('\r\n\r\n')[1])
    .filter((p): p is string => !!p && p.trim() !== '{}')
    .map((p) => JSON.parse(p) as { payload: Body | null; errors?: Body['errors'] });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, parts, ended: text.endsWith('\r\n--graphql--\r\n') };
}

interface RawWs {
  readonly ws: WebSocket;
  readonly messages: { type: string; id?: string; payload?: unknown }[];
  readonly closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  next(pred: (m: RawWs['messages'][number]) => boolean, timeoutMs?: number): Promise<RawWs['messages'][number]>;
}

function openWs(gateway: RunningGateway, headers: Record<string, string> = {}): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/graphql`, ['graphql-transport-ws'], { headers });
    const messages: RawWs['messages'] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: String(reason) })));
    ws.on('message', (d) => messages.push(JSON.parse(String(d)) as RawWs['messages'][number]));
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        messages,
        closed,
        send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
        async next(pred, timeoutMs = 5_000) {
          await eventually(() => messages.some(pred), timeoutMs, 'a WebSocket message');
          return messages.find(pred)!;
        },
      }),
    );
  });
}

async function initialised(gateway: RunningGateway, token?: string): Promise<RawWs> {
  const c = await openWs(gateway);
  c.send({ type: 'connection_init', payload: token ? { Authorization: `Bearer ${token}` } : {} });
  await c.next((m) => m.type === 'connection_ack');
  return c;
}

/** The first error code of a graphql-ws `next` (a result) or `error` (a list of errors) payload. */
const codeOf = (payload: unknown): unknown => {
  const errors = Array.isArray(payload) ? (payload as Body['errors']) : (payload as Body | undefined)?.errors;
  return errors?.[0]?.extensions?.code;
};

let redis: TestRedis;
let graph: TestGraph;
const gateways: RunningGateway[] = [];
const start = async (env: Record<string, string>, opts?: Parameters<typeof startTestGateway>[3]) => {
  const g = await startTestGateway(graph, redis.url, { SHUTDOWN_GRACE: '1s', ...env }, opts);
  gateways.push(g);
  return g;
};

beforeAll(async () => {
  redis = await startRedis();
  graph = await startTestGraph({ identitySecret: PROD_IDENTITY });
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await graph?.close();
  await redis?.close();
});
const PROD_ENV = { NODE_ENV: 'production', JWT_SECRET: PROD_JWT, IDENTITY_SECRET: PROD_IDENTITY };
const DEV_ENV = { IDENTITY_SECRET: PROD_IDENTITY };

describe('multipart subscriptions and CSRF', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await start(DEV_ENV);
  });

  it('refuses a simple (unpreflighted) request, whatever its content type says after the media type', async () => {
    const body = { query: 'subscription { stockChanged(productId: "p1") { id } }' };
    for (const contentType of ['text/plain; charset=application/json', 'text/plain;application/json', 'application/x-www-form-urlencoded; x=application/json', 'multipart/form-data; boundary=application/json']) {
      const r = await multipart(gateway, body, { 'content-type': contentType });
      expect(r.status, contentType).toBe(400);
      expect(r.contentType, contentType).not.toContain('multipart/mixed');
      expect(JSON.parse(r.text)).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
    }
  });

  it('opens the stream with a JSON content type, as before', async () => {
    const controller = new AbortController();
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      signal: controller.signal,
      headers: { accept: MULTIPART, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ query: 'subscription { stockChanged(productId: "p1") { id } }' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('multipart/mixed');
    controller.abort();
  });
});

describe('a token that expires', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await start(DEV_ENV);
  });

  it('closes the WebSocket with 4403 at the token exp, and serves nothing after it', async () => {
    const token = await tokenFor('alice', [], '2s');
    const c = await initialised(gateway, token);
    c.send({ id: 's1', type: 'subscribe', payload: { query: 'subscription { stockChanged(productId: "p1") { id } }' } });
    const started = Date.now();
    const { code } = await Promise.race([c.closed, new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), 5_000))]);
    expect(code).toBe(4403);
    expect(Date.now() - started).toBeLessThan(3_500);
    await eventually(() => graph.inventory.activeSubscriptions === 0, 5_000, 'the upstream subscription released');
  });

  it('ends a multipart stream with UNAUTHENTICATED at the token exp', async () => {
    const token = await tokenFor('alice', [], '2s');
    const r = await multipart(gateway, { query: 'subscription { stockChanged(productId: "p1") { id } }' }, { 'content-type': 'application/json', authorization: `Bearer ${token}` });
    expect(r.status).toBe(200);
    expect(r.parts.at(-1)).toMatchObject({ payload: null, errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    expect(r.ended).toBe(true);
  });
});

describe('nothing internal reaches a client', () => {
  let dev: RunningGateway;
  let prod: RunningGateway;
  beforeAll(async () => {
    [dev, prod] = await Promise.all([start(DEV_ENV), start(PROD_ENV)]);
  });

  it('passes no subgraph stack trace through, in development either', async () => {
    const r = await post(dev, { query: `{ product(id: "${LEAKY_PRODUCT}") { id } }` });
    expect(r.body.errors?.length).toBeGreaterThan(0);
    expect(r.text).not.toContain('stacktrace');
    expect(r.text).not.toContain('read-model.ts');
    const query = encodeURIComponent(`{ product(id: "${LEAKY_PRODUCT}") { id } }`);
    const viaApollo = await fetch(`${dev.url}/graphql?query=${query}`, { headers: { 'apollo-require-preflight': 'true' } }).then((res) => res.text());
    expect(viaApollo).toContain('REDIS_DOWN');
    expect(viaApollo).not.toContain('stacktrace');
  });

  it('masks a subgraph error without a public code in production: fast path, Apollo path, WebSocket and multipart', async () => {
    const query = `{ product(id: "${LEAKY_PRODUCT}") { id } }`;
    const fast = await post(prod, { query });
    const viaApollo = await fetch(`${prod.url}/graphql?query=${encodeURIComponent(query)}`, { headers: { 'apollo-require-preflight': 'true' } }).then((res) => res.text());
    const sub = { query: `subscription { stockChanged(productId: "${LEAKY_PRODUCT}") { id } }` };
    const streamed = await multipart(prod, sub, { 'content-type': 'application/json' });
    const c = await initialised(prod);
    c.send({ id: 'w', type: 'subscribe', payload: sub });
    await c.next((m) => m.id === 'w' && (m.type === 'complete' || m.type === 'error'));
    c.ws.close();
    for (const [where, text] of [['fast path', fast.text], ['Apollo path', viaApollo], ['multipart', streamed.text], ['WebSocket', JSON.stringify(c.messages)]] as const) {
      expect(text, where).not.toContain(LEAKED_DETAIL);
      expect(text, where).not.toContain('REDIS_DOWN');
      expect(text, where).not.toContain('stacktrace');
      expect(text, where).toContain('INTERNAL_SERVER_ERROR');
    }
    expect(fast.body.errors?.[0]?.message).toBe('Internal server error');
  });
});

describe('__proto__, constructor and prototype variables', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await start(DEV_ENV);
  });

  it('get BAD_USER_INPUT on every path', async () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      const query = `query ($${name}: ID!) { product(id: $${name}) { id } }`;
      const variables = JSON.parse(`{"${name}": "p1"}`) as Record<string, unknown>;
      const http = await post(gateway, { query, variables }, { accept: 'application/graphql-response+json' });
      expect(http.body.errors?.[0]?.extensions?.code, `${name} over HTTP: ${http.text}`).toBe('BAD_USER_INPUT');
      expect(http.status).toBe(400);
      // A legacy client (application/json) reads the errors from a 200, as GraphQL over HTTP has it.
      expect((await post(gateway, { query, variables }, { accept: 'application/json' })).status).toBe(200);
      // Only sent, not declared: still refused.
      const sentOnly = await post(gateway, { query: '{ product(id: "p1") { id } }', variables });
      expect(sentOnly.body.errors?.[0]?.extensions?.code, `${name} sent only`).toBe('BAD_USER_INPUT');
      const sub = { query: `subscription ($${name}: ID!) { stockChanged(productId: $${name}) { id } }`, variables };
      const streamed = await multipart(gateway, sub, { 'content-type': 'application/json' });
      expect(streamed.status).toBe(400);
      expect(JSON.parse(streamed.text)).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
      const c = await initialised(gateway);
      c.send({ id: 'q', type: 'subscribe', payload: { query, variables } });
      c.send({ id: 's', type: 'subscribe', payload: sub });
      const q = await c.next((m) => m.id === 'q' && (m.type === 'next' || m.type === 'error'));
      const s = await c.next((m) => m.id === 's' && m.type === 'error');
      expect(codeOf(q.payload), `${name} WS query`).toBe('BAD_USER_INPUT');
      expect(codeOf(s.payload), `${name} WS subscription`).toBe('BAD_USER_INPUT');
      c.ws.close();
    }
  });
});

describe('subscriptions per socket and per client', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await start({ ...DEV_ENV, WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '3', MAX_SUBSCRIPTIONS_PER_CLIENT: '5' });
  });

  it('are capped, with RATE_LIMITED naming the limit, and free again when one ends', async () => {
    const token = await tokenFor('capped');
    const subscribe = (c: RawWs, id: string) => c.send({ id, type: 'subscribe', payload: { query: `subscription { stockChanged(productId: "p1") { id } }` } });
    const a = await initialised(gateway, token);
    for (const id of ['a1', 'a2', 'a3', 'a4']) subscribe(a, id);
    const refusedA = await a.next((m) => m.id === 'a4' && m.type === 'error');
    expect((refusedA.payload as Body['errors'])![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'subscriptionsPerSocket', max: 3 });
    expect(a.messages.filter((m) => m.type === 'error' && m.id !== 'a4')).toEqual([]);
    const b = await initialised(gateway, token);
    for (const id of ['b1', 'b2', 'b3']) subscribe(b, id);
    const refusedB = await b.next((m) => m.id === 'b3' && m.type === 'error');
    expect((refusedB.payload as Body['errors'])![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'subscriptionsPerClient', max: 5 });
    // Multipart streams count toward the same client.
    const streamed = await multipart(gateway, { query: 'subscription { stockChanged(productId: "p1") { id } }' }, { 'content-type': 'application/json', authorization: `Bearer ${token}` });
    expect(streamed.status).toBe(429);
    // Another customer is not affected.
    const other = await initialised(gateway, await tokenFor('someone-else'));
    subscribe(other, 'o1');
    await new Promise((r) => setTimeout(r, 300));
    expect(other.messages.filter((m) => m.type === 'error')).toEqual([]);
    // Ending one frees its place.
    a.send({ id: 'a1', type: 'complete' });
    await new Promise((r) => setTimeout(r, 300));
    subscribe(b, 'b4');
    await new Promise((r) => setTimeout(r, 300));
    expect(b.messages.filter((m) => m.id === 'b4' && m.type === 'error')).toEqual([]);
    for (const c of [a, b, other]) c.ws.close();
  });
});

describe('per-IP limit before authentication, and trusted proxies', () => {
  let direct: RunningGateway;
  let behindProxy: RunningGateway;
  let directRedis: TestRedis;
  beforeAll(async () => {
    // Each gateway its own Redis: both see every request coming from 127.0.0.1.
    directRedis = await startRedis();
    direct = await startTestGateway(graph, directRedis.url, { ...DEV_ENV, IP_RATE_LIMIT: '6', RATE_LIMIT_WINDOW: '1h', SHUTDOWN_GRACE: '1s' });
    gateways.push(direct);
    behindProxy = await start({ ...DEV_ENV, IP_RATE_LIMIT: '3', RATE_LIMIT_WINDOW: '1h', TRUSTED_PROXIES: '127.0.0.1, ::1' });
  });
  afterAll(async () => {
    await directRedis?.close();
  });

  it('counts requests with invalid tokens, and ignores X-Forwarded-For from an untrusted peer', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await post(direct, { query: '{ __typename }' }, { authorization: 'Bearer not-a-token', 'x-forwarded-for': `198.51.100.${i}` });
      statuses.push(r.status);
    }
    expect(statuses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 401]);
    expect(statuses.slice(6)).toEqual([429, 429]);
  });

  it('refuses a WebSocket upgrade from an address over its limit', async () => {
    // The same address: already over its limit from the test above, so the upgrade itself is refused.
    await expect(openWs(direct)).rejects.toThrow(/429/);
  });

  it('behind a trusted proxy, keys each client by its forwarded address', async () => {
    const as = (ip: string) => post(behindProxy, { query: '{ __typename }' }, { 'x-forwarded-for': `${ip}, 127.0.0.1` });
    const first = [];
    for (let i = 0; i < 4; i++) first.push((await as('203.0.113.7')).status);
    expect(first).toEqual([200, 200, 200, 429]);
    expect((await as('203.0.113.8')).status).toBe(200);
    // A client's own X-Forwarded-For entry sits to the left of what the proxy appended and is not believed.
    expect((await post(behindProxy, { query: '{ __typename }' }, { 'x-forwarded-for': '10.9.9.9, 203.0.113.7' })).status).toBe(429);
  });
});

describe('WebSocket pings and silent sockets', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await start({ ...DEV_ENV, IP_RATE_LIMIT: '20', RATE_LIMIT_WINDOW: '1h', WS_MAX_PENDING_PER_IP: '3' });
  });

  it('refuses the upgrade of a fourth socket that has not sent connection_init, and admits one when another does', async () => {
    const silent = await Promise.all([openWs(gateway), openWs(gateway), openWs(gateway)]);
    await expect(openWs(gateway)).rejects.toThrow(/429/);
    silent[0]!.send({ type: 'connection_init', payload: {} });
    await silent[0]!.next((m) => m.type === 'connection_ack');
    const admitted = await openWs(gateway);
    admitted.ws.close();
    for (const c of silent) c.ws.close();
    await Promise.all(silent.map((c) => c.closed));
  });

  it('gives a pending slot back when its socket closes before connection_init', async () => {
    const silent = await Promise.all([openWs(gateway), openWs(gateway), openWs(gateway)]);
    await expect(openWs(gateway)).rejects.toThrow(/429/);
    silent[0]!.ws.close();
    await silent[0]!.closed;
    // The close reaches the gateway a moment after the client sees it.
    let admitted: Awaited<ReturnType<typeof openWs>> | undefined;
    await eventually(async () => (admitted = await openWs(gateway).catch(() => undefined)) !== undefined, 5_000, 'the pending slot given back');
    admitted!.ws.close();
    for (const c of silent.slice(1)) c.ws.close();
    await Promise.all([admitted!.closed, ...silent.slice(1).map((c) => c.closed)]);
  });

  it('counts every message toward the IP, pings included, and closes with 4429 past the limit', async () => {
    const c = await initialised(gateway);
    for (let i = 0; i < 30; i++) c.send({ type: 'ping' });
    const { code } = await Promise.race([c.closed, new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), 5_000))]);
    expect(code).toBe(4429);
  });
});

describe('logs of client-caused refusals', () => {
  it('an oversized WebSocket message is logged below error level, without a stack', async () => {
    const lines: { level: number; msg: string; err?: { stack?: string } }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as (typeof lines)[number]);
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const gateway = await start({ ...DEV_ENV, WS_MAX_MESSAGE_BYTES: '2048' }, { logger });
    const c = await initialised(gateway);
    c.send({ id: 'big', type: 'subscribe', payload: { query: `{ __typename } #${'x'.repeat(4096)}` } });
    expect((await c.closed).code).toBe(1009);
    await eventually(() => lines.some((l) => /protocol error/.test(l.msg)), 2_000, 'the refusal logged');
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(JSON.stringify(lines)).not.toMatch(/"stack"|\n\s+at /);
  });
});
