// Hostile input against the running system (one replica of each service): malformed and oversized
// bodies, query bombs, bad ids and quantities, forged/expired/unsigned JWTs, other customers' orders,
// WebSocket floods and malformed frames, malformed events on every topic. Each must get a clear error
// (a GraphQL error with a code, a 4xxx close code, or a dead letter); afterwards every process is alive
// and healthy, a normal order still completes, and nothing leaked between customers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, decodeJwt } from 'jose';
import WebSocket from 'ws';
import { ALL_TOPICS } from '@shop/events';
import { DEV_SECRETS, signIdentity } from '@shop/service-kit';
import { ChaosHarness, gql, sleep, type GqlAnswer, type ProductInfo } from './harness.js';
import { checkDeadLetters, type InjectedPoison } from './invariants.js';
import { injectPoison, poisonCatalogue, poisonProducer } from './poison.js';
import { chaosProfile } from './profile.js';
import { writeChaosSection } from './results.js';

const profile = chaosProfile();
const startedAt = new Date();
const WS_CONNECTION_LIMIT = 20;
let h: ChaosHarness | undefined;
let url = '';
let product: ProductInfo;
let alice: { name: string; token: string };
let bob: { name: string; token: string };
const checks: { check: string; passed: boolean; detail: string }[] = [];
let poisonFigures: { injected: number; found: number } | undefined;
let processes: { name: string; alive: boolean; healthy: boolean }[] | undefined;

const harness = () => {
  if (!h) throw new Error('the system did not start');
  return h;
};

/** Runs one hostile check, recording it (with what the system answered) for chaos.md. */
async function hostile(check: string, run: () => Promise<string>): Promise<void> {
  try {
    const detail = await run();
    checks.push({ check, passed: true, detail });
  } catch (err) {
    checks.push({ check, passed: false, detail: err instanceof Error ? err.message.split('\n')[0]! : String(err) });
    throw err;
  }
}

/** A refusal with a code and no server error. */
function expectRefused(r: GqlAnswer<unknown>, codes: readonly string[], what: string): string {
  expect(r.outcome, `${what}: ${r.message}`).toBe('graphql');
  expect(codes, `${what}: code ${r.code} (${r.message})`).toContain(r.code);
  expect(r.httpStatus ?? 0, `${what}: HTTP status`).toBeLessThan(500);
  return `${r.httpStatus} ${r.code}`;
}

async function raw(body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, token?: string) {
  const res = await fetch(url, { method: 'POST', headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  let json: { errors?: { message: string; extensions?: { code?: string } }[]; data?: unknown } | unknown[] | undefined;
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

// -- a raw graphql-transport-ws connection (to send what no well-behaved client would) ---------------

interface RawWs {
  readonly ws: WebSocket;
  readonly messages: { type: string; id?: string; payload?: unknown }[];
  readonly closed: Promise<{ code: number; reason: string }>;
  send(data: unknown): void;
  waitFor(pred: (m: { type: string; id?: string; payload?: unknown }) => boolean, timeoutMs?: number): Promise<boolean>;
}

function openRaw(protocol: string | undefined = 'graphql-transport-ws'): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), protocol ? [protocol] : [], { handshakeTimeout: 5_000 });
    const messages: RawWs['messages'] = [];
    const listeners = new Set<() => void>();
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('message', (data) => {
      try {
        messages.push(JSON.parse(data.toString()) as RawWs['messages'][number]);
      } catch {
        messages.push({ type: '<not json>', payload: data.toString().slice(0, 100) });
      }
      for (const l of listeners) l();
    });
    ws.once('error', (err) => reject(err));
    ws.once('open', () =>
      resolve({
        ws,
        messages,
        closed,
        send: (d) => ws.send(typeof d === 'string' || Buffer.isBuffer(d) ? d : JSON.stringify(d)),
        waitFor: (pred, timeoutMs = 5_000) =>
          new Promise<boolean>((res) => {
            if (messages.some(pred)) return res(true);
            const done = (v: boolean) => {
              clearTimeout(timer);
              listeners.delete(check);
              res(v);
            };
            const check = () => {
              if (messages.some(pred)) done(true);
            };
            const timer = setTimeout(() => done(false), timeoutMs);
            listeners.add(check);
            void closed.then(() => setTimeout(() => done(messages.some(pred)), 10));
          }),
      }),
    );
  });
}

async function closeCode(c: RawWs, timeoutMs = 10_000): Promise<number | 'open'> {
  const r = await Promise.race([c.closed, sleep(timeoutMs).then(() => 'open' as const)]);
  if (r === 'open') {
    c.ws.terminate();
    return 'open';
  }
  return r.code;
}

async function initialised(token: string | undefined): Promise<RawWs> {
  const c = await openRaw();
  c.send({ type: 'connection_init', payload: token ? { Authorization: `Bearer ${token}` } : {} });
  const ok = await c.waitFor((m) => m.type === 'connection_ack');
  if (!ok) throw new Error(`no connection_ack (messages: ${JSON.stringify(c.messages)})`);
  return c;
}

// -- tokens --------------------------------------------------------------------------------------------

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** The gateway's issuer and audience are added, so that each token below is refused for its own flaw only. */
const hs256 = (claims: Record<string, unknown>, secret: string) =>
  new SignJWT({ iss: 'shop-gateway', aud: 'shop-api', ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));

const MY_ORDERS = '{ myOrders(first: 5) { edges { node { id customerId } } } }';

beforeAll(async () => {
  h = await ChaosHarness.start({ profile, replicas: 1, gateways: 1, env: { RATE_LIMIT: '5000', SAGA_DEADLINE_MS: '8000' } });
  url = h.url(0);
  [alice, bob] = await Promise.all([h.customer('alice'), h.customer('bob')]);
  const stock = await h.readStock(10_000);
  product = [...(stock?.values() ?? [])].sort((a, b) => b.stock.available - a.stock.available)[0]!;
  if (!product) throw new Error('empty catalog');
}, 180_000);

afterAll(async () => {
  if (h) {
    const finished = new Date();
    writeChaosSection('hostile', {
      profile: profile.name,
      startedAt: startedAt.toISOString(),
      finishedAt: finished.toISOString(),
      seconds: (finished.getTime() - startedAt.getTime()) / 1000,
      hostile: checks,
      ...(poisonFigures ? { deadLetters: poisonFigures } : {}),
      ...(processes ? { processes } : {}),
      notes: h.notes,
    });
  }
  await h?.stop();
}, 120_000);

describe('hostile HTTP bodies', () => {
  it('malformed JSON gets a 400 with an error, not a crash', () =>
    hostile('malformed JSON body', async () => {
      const answers = [];
      for (const body of ['{"query": "{ __typename }"', '{{{{', '\u0000\u0001garbage', '{"query": 12}', '{"query": "{ __typename }", "variables": "nope"}', 'null', '"a string"', '[]']) {
        const r = await raw(body);
        expect(r.status, `${JSON.stringify(body)} → ${r.status} ${r.text.slice(0, 120)}`).toBeGreaterThanOrEqual(400);
        expect(r.status, `${JSON.stringify(body)} → ${r.text.slice(0, 120)}`).toBeLessThan(500);
        answers.push(r.status);
      }
      return `statuses ${answers.join(', ')}`;
    }));

  it('an oversized body is refused with 413', () =>
    hostile('oversized body (3 MiB)', async () => {
      const r = await raw(JSON.stringify({ query: `{ __typename } #${'x'.repeat(3 * 1024 * 1024)}` }));
      expect(r.status).toBe(413);
      return `HTTP ${r.status}`;
    }));

  it('a non-JSON content type without a preflight header is refused (CSRF), a GET mutation too', () =>
    hostile('text/plain body and GET mutation', async () => {
      const r = await raw(JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'text/plain' });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      const q = encodeURIComponent(`mutation { restock(productId: "${product.id}", quantity: 5) { id } }`);
      const get = await fetch(`${url}?query=${q}`, { headers: { 'apollo-require-preflight': 'true' } });
      expect(get.status).toBeGreaterThanOrEqual(400);
      expect(get.status).toBeLessThan(500);
      return `text/plain → ${r.status}; GET mutation → ${get.status}`;
    }));

  it('deeply nested, alias-bomb, repeated-field and fragment-cycle queries are refused before planning', () =>
    hostile('query bombs (depth 60, 2000 aliases, 20000 fields, fragment cycle)', async () => {
      let deep = 'id';
      for (let i = 0; i < 30; i++) deep = `history { order { ${deep} } }`;
      const bombs: [string, string][] = [
        ['deep', `query { order(id: "ord_aaaaaaaaaaaaaaaaaaaaaaaa") { ${deep} } }`],
        ['aliases', `query { ${Array.from({ length: 2000 }, (_, i) => `a${i}: product(id: "${product.id}") { id name }`).join(' ')} }`],
        ['fields', `query { ${'__typename '.repeat(20_000)} products(first: 1) { edges { node { ${'name '.repeat(20_000)} } } } }`],
        ['cycle', 'query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }'],
        ['directives', `query { __typename ${'@skip(if: false) '.repeat(5_000)} }`],
      ];
      const out: string[] = [];
      for (const [name, q] of bombs) {
        const started = Date.now();
        const r = await gql(url, q, {}, alice.token, 15_000);
        out.push(`${name}: ${expectRefused(r, ['QUERY_TOO_COMPLEX', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_USER_INPUT'], name)} in ${Date.now() - started} ms`);
      }
      return out.join('; ');
    }));

  it('__typename aliases count like any field: 1,000 of them are refused', () =>
    hostile('__typename alias bomb (1,000 and 10,000 aliases)', async () => {
      const out: string[] = [];
      for (const n of [1_000, 10_000]) {
        const q = `{ ${Array.from({ length: n }, (_, i) => `t${i}: __typename`).join(' ')} }`;
        const r = await gql(url, q, {}, alice.token, 15_000);
        out.push(`${n}: ${expectRefused(r, ['QUERY_TOO_COMPLEX'], `${n} __typename aliases`)}`);
      }
      const nested = `{ products(first: 50) { edges { node { ${Array.from({ length: 200 }, (_, i) => `t${i}: __typename`).join(' ')} } } } }`;
      out.push(`nested: ${expectRefused(await gql(url, nested, {}, alice.token), ['QUERY_TOO_COMPLEX'], 'nested __typename aliases')}`);
      expect((await fetch(new URL('/healthz', url))).status).toBe(200);
      return out.join('; ');
    }));

  it('__proto__, constructor and prototype variables get BAD_USER_INPUT', () =>
    hostile('__proto__ / constructor / prototype variables', async () => {
      const out: string[] = [];
      for (const name of ['__proto__', 'constructor', 'prototype']) {
        const body = `{"query": "query ($${name}: ID!) { product(id: $${name}) { id } }", "variables": {"${name}": "${product.id}"}}`;
        const r = await raw(body, undefined, alice.token);
        const code = (r.json as { errors?: { extensions?: { code?: string } }[] } | undefined)?.errors?.[0]?.extensions?.code;
        expect(code, `${name}: ${r.text.slice(0, 200)}`).toBe('BAD_USER_INPUT');
        out.push(`${name}: ${r.status} ${code}`);
      }
      return out.join('; ');
    }));

  it('a multipart subscription sent as a simple request (no preflight) is refused (CSRF)', () =>
    hostile('multipart subscription as text/plain (CSRF)', async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=application/json', accept: 'multipart/mixed;subscriptionSpec=1.0' },
        body: JSON.stringify({ query: `subscription { stockChanged(productId: "${product.id}") { id } }` }),
        signal: AbortSignal.timeout(10_000),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type') ?? '').not.toContain('multipart');
      await res.body?.cancel();
      return `HTTP ${res.status}`;
    }));

  it('a batched request (JSON array) is refused or bounded', () =>
    hostile('batched request of 100 operations', async () => {
      const r = await raw(JSON.stringify(Array.from({ length: 100 }, () => ({ query: '{ products(first: 50) { edges { node { id stock { available } } } } }' }))), undefined, alice.token);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      return `HTTP ${r.status} ${r.text.slice(0, 100)}`;
    }));
});

describe('invalid ids and quantities', () => {
  it('malformed ids get BAD_USER_INPUT (or nothing), never a server error', () =>
    hostile('malformed order and product ids', async () => {
      const ids = ['../../etc/passwd', "ord_' OR '1'='1", `ord_${'a'.repeat(10_000)}`, 'ord_\u0000\u0001', '', '🧨', '{"$gt":""}', 'orders:order:*'];
      const out: string[] = [];
      for (const id of ids) {
        const o = await gql<{ order: unknown }>(url, 'query ($id: ID!) { order(id: $id) { id } }', { id }, alice.token);
        if (o.outcome === 'ok') expect(o.data?.order ?? null).toBeNull();
        else out.push(expectRefused(o, ['BAD_USER_INPUT', 'NOT_FOUND'], `order(${id.slice(0, 20)})`));
        const p = await gql<{ product: unknown }>(url, 'query ($id: ID!) { product(id: $id) { id } }', { id }, alice.token);
        if (p.outcome === 'ok') expect(p.data?.product ?? null).toBeNull();
        else out.push(expectRefused(p, ['BAD_USER_INPUT', 'NOT_FOUND'], `product(${id.slice(0, 20)})`));
        const c = await gql(url, 'mutation ($id: ID!) { cancelOrder(id: $id) { id } }', { id }, alice.token);
        out.push(expectRefused(c, ['BAD_USER_INPUT', 'NOT_FOUND'], `cancelOrder(${id.slice(0, 20)})`));
      }
      return `${ids.length} ids × 3 operations: ${[...new Set(out)].join(', ')}`;
    }));

  it('quantities outside 1..1000, no lines, too many lines and wrong types get BAD_USER_INPUT', () =>
    hostile('invalid quantities and line counts', async () => {
      const line = (quantity: unknown) => ({ productId: product.id, quantity });
      const inputs: [string, unknown][] = [
        ['quantity 0', [line(0)]],
        ['quantity -1', [line(-1)]],
        ['quantity 1001', [line(1001)]],
        ['quantity 2^31', [line(2 ** 31)]],
        ['quantity 1.5', [line(1.5)]],
        ['quantity "1"', [line('1')]],
        ['quantity null', [line(null)]],
        ['no lines', []],
        ['51 lines', Array.from({ length: 51 }, () => line(1))],
        ['unknown product', [{ productId: 'prd_does-not-exist', quantity: 1 }]],
        ['malformed product id', [{ productId: '<script>', quantity: 1 }]],
      ];
      const out: string[] = [];
      for (const [name, lines] of inputs) {
        const r = await gql(url, 'mutation ($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } } }', { input: { lines, paymentToken: 'tok_visa' } }, alice.token);
        out.push(`${name}: ${expectRefused(r, ['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED'], name)}`);
      }
      const restock = await gql(url, 'mutation { restock(productId: "PRODUCT", quantity: -5) { id } }'.replace('PRODUCT', product.id), {}, (await harness().customer('hostile-admin')).token);
      out.push(`non-admin restock: ${expectRefused(restock, ['FORBIDDEN', 'BAD_USER_INPUT'], 'restock')}`);
      const adminRestock = await gql(url, 'mutation ($p: ID!, $q: Int!) { restock(productId: $p, quantity: $q) { id } }', { p: product.id, q: -5 }, harness().adminToken);
      out.push(`admin restock -5: ${expectRefused(adminRestock, ['BAD_USER_INPUT'], 'restock -5')}`);
      return out.join('; ');
    }));
});

describe('tokens', () => {
  it('forged, expired, unsigned (alg none), escalated and subject-less JWTs are refused with UNAUTHENTICATED', () =>
    hostile('forged / expired / alg none / tampered JWTs (HTTP)', async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = decodeJwt(alice.token);
      const [head, , sig] = alice.token.split('.');
      const tokens: [string, string][] = [
        ['forged (other secret)', await hs256({ sub: alice.name, roles: ['admin'], iat: now, exp: now + 600 }, 'not-the-secret-but-long-enough-0123456789')],
        ['expired', await hs256({ sub: alice.name, roles: [], iat: now - 7_200, exp: now - 3_600 }, DEV_SECRETS.jwt)],
        ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: alice.name, roles: ['admin'], iat: now, exp: now + 600 })}.`],
        ['alg none, upper case', `${b64({ alg: 'NONE', typ: 'JWT' })}.${b64({ sub: alice.name, iat: now, exp: now + 600 })}.`],
        ['escalated roles, original signature', `${head}.${b64({ ...claims, roles: ['admin'] })}.${sig}`],
        ['RS256 header, HMAC signature', `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ sub: alice.name, exp: now + 600 })}.${sig}`],
        ['no subject', await hs256({ roles: ['admin'], iat: now, exp: now + 600 }, DEV_SECRETS.jwt)],
        ['not yet valid', await hs256({ sub: alice.name, iat: now, nbf: now + 3_600, exp: now + 7_200 }, DEV_SECRETS.jwt)],
        ['no exp', await hs256({ sub: alice.name, roles: ['admin'], iat: now }, DEV_SECRETS.jwt)],
        ['older than the maximum age', await hs256({ sub: alice.name, iat: now - 25 * 3_600, exp: now + 3_600 }, DEV_SECRETS.jwt)],
        ['foreign issuer', await hs256({ sub: alice.name, iss: 'https://evil.example', iat: now, exp: now + 600 }, DEV_SECRETS.jwt)],
        ['foreign audience', await hs256({ sub: alice.name, aud: 'another-api', iat: now, exp: now + 600 }, DEV_SECRETS.jwt)],
        ['garbage', 'not.a.jwt'],
        ['10 KiB', 'x'.repeat(10 * 1024)],
      ];
      const out: string[] = [];
      for (const [name, token] of tokens) {
        const r = await gql(url, MY_ORDERS, {}, token);
        out.push(`${name}: ${expectRefused(r, ['UNAUTHENTICATED'], name)}`);
        const adm = await gql(url, 'mutation ($p: ID!) { restock(productId: $p, quantity: 1) { id } }', { p: product.id }, token);
        expectRefused(adm, ['UNAUTHENTICATED', 'FORBIDDEN'], `${name} (restock)`);
      }
      for (const header of ['Basic YWxpY2U6cGFzcw==', 'Bearer', `Bearer ${alice.token} extra`, `bearer  ${'a'.repeat(100)}`]) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: header }, body: JSON.stringify({ query: MY_ORDERS }) });
        const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
        expect(body.errors?.[0]?.extensions?.code, header.slice(0, 20)).toBe('UNAUTHENTICATED');
      }
      return out.join('; ');
    }));

  it('a client-supplied x-shop-identity header is not trusted (gateway strips it; a subgraph checks its HMAC)', () =>
    hostile('forged gateway identity header', async () => {
      const forged = signIdentity({ sub: alice.name, roles: ['admin'] }, DEV_SECRETS.identity, 'orders');
      const viaGateway = await gql(url, MY_ORDERS, {}, undefined);
      expectRefused(viaGateway, ['UNAUTHENTICATED'], 'anonymous');
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-shop-identity': forged }, body: JSON.stringify({ query: MY_ORDERS }) });
      const body = (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
      expect(body.errors?.[0]?.extensions?.code, JSON.stringify(body).slice(0, 200)).toBe('UNAUTHENTICATED');
      const sub = harness().system.subgraphUrls.orders[0]!;
      const wrongHmac = `${forged.split('.')[0]}.${Buffer.from('nope').toString('base64url')}`;
      const direct = await fetch(sub, { method: 'POST', headers: { 'content-type': 'application/json', 'x-shop-identity': wrongHmac }, body: JSON.stringify({ query: MY_ORDERS }) });
      const dbody = (await direct.json()) as { errors?: { extensions?: { code?: string } }[] };
      expect(dbody.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      return 'gateway: UNAUTHENTICATED with a dev-secret-signed header and no JWT; subgraph: UNAUTHENTICATED with a wrong HMAC';
    }));
});

describe("another customer's orders", () => {
  it('bob can neither read, cancel, nor watch alice’s order, and sees none of her data', () =>
    hostile("another customer's order ids (query, cancel, subscribe, lists, notifications)", async () => {
      const hh = harness();
      const rec = await hh.placeOrder(alice, [{ productId: product.id, quantity: 1 }], 'tok_visa');
      expect(rec.orderId).toBeTruthy();
      const id = rec.orderId!;
      // Bob watches his own notifications while alice's order runs.
      const bobWs = await initialised(bob.token);
      bobWs.send({ id: 'n', type: 'subscribe', payload: { query: 'subscription { notificationAdded { id orderId kind message } }' } });
      // Exactly what a missing order answers (docs/api.md), message included: no existence oracle.
      const missing = 'ord_doesnotexist00000000000';
      const neutral = (v: unknown, orderId: string) => JSON.stringify(v ?? null).replaceAll(orderId, '<id>');
      const readQuery = 'query ($id: ID!) { order(id: $id) { id customerId lines { quantity } history { status } } }';
      const read = await gql<{ order: unknown }>(url, readQuery, { id }, bob.token);
      const readMissing = await gql<{ order: unknown }>(url, readQuery, { id: missing }, bob.token);
      expect(read.outcome).toBe('ok');
      expect(read.data).toEqual({ order: null });
      expect(read.data).toEqual(readMissing.data);
      const cancelQuery = 'mutation ($id: ID!) { cancelOrder(id: $id) { id status } }';
      const cancel = await gql(url, cancelQuery, { id }, bob.token);
      const cancelMissing = await gql(url, cancelQuery, { id: missing }, bob.token);
      expectRefused(cancel, ['NOT_FOUND'], 'bob cancels');
      expect(neutral(cancel.message, id)).toBe(neutral(cancelMissing.message, missing));
      const watchAnswer = async (orderId: string) => {
        const watch = await initialised(bob.token);
        watch.send({ id: 'w', type: 'subscribe', payload: { query: 'subscription ($id: ID!) { orderStatusChanged(orderId: $id, after: 0) { sequence status } }', variables: { id: orderId } } });
        expect(await watch.waitFor((m) => m.id === 'w' && (m.type === 'error' || m.type === 'complete'), 10_000), JSON.stringify(watch.messages)).toBe(true);
        expect(watch.messages.filter((m) => m.type === 'next' && !(m.payload as { errors?: unknown }).errors)).toEqual([]);
        watch.ws.close();
        return neutral(watch.messages.filter((m) => m.id === 'w'), orderId);
      };
      const watched = await watchAnswer(id);
      const watchCode = watched.match(/"code":"([A-Z_]+)"/)?.[1];
      expect(watchCode).toBe('NOT_FOUND');
      expect(watched).toBe(await watchAnswer(missing));
      // Alice's order finishes, untouched by bob's cancel.
      const final = await hh.drain([id], 30_000);
      expect(final.size, 'alice’s order still not final').toBe(0);
      const order = await hh.readOrder(id);
      expect(order?.status).toBe('CONFIRMED');
      const bobsOrders = await gql<{ myOrders: { edges: { node: { id: string } }[] } }>(url, MY_ORDERS, {}, bob.token);
      expect(bobsOrders.data?.myOrders.edges.map((e) => e.node.id) ?? []).not.toContain(id);
      const notes = await gql<{ myNotifications: { edges: { node: { id: string; orderId: string } }[] } }>(url, '{ myNotifications(first: 50) { edges { node { id orderId } } } }', {}, bob.token);
      expect(notes.outcome).toBe('ok');
      expect(notes.data!.myNotifications.edges.filter((e) => e.node.orderId === id)).toEqual([]);
      // Alice's own notification of it, which bob may not mark read.
      const aliceNotes = await gqlEventually(() => gql<{ myNotifications: { edges: { node: { id: string; orderId: string } }[] } }>(url, '{ myNotifications(first: 50) { edges { node { id orderId } } } }', {}, alice.token), (r) => r.data?.myNotifications.edges.some((e) => e.node.orderId === id) ?? false);
      const noteId = aliceNotes.data!.myNotifications.edges.find((e) => e.node.orderId === id)!.node.id;
      const mark = await gql(url, 'mutation ($id: ID!) { markNotificationRead(id: $id) { id read } }', { id: noteId }, bob.token);
      expectRefused(mark, ['NOT_FOUND'], 'bob marks alice’s notification');
      await sleep(500);
      const leaked = bobWs.messages.filter((m) => m.type === 'next' && JSON.stringify(m.payload).includes(id));
      expect(leaked).toEqual([]);
      bobWs.ws.close();
      return `read: null (as a missing id); cancel: ${cancel.code} (as a missing id); subscribe: ${watchCode} (as a missing id); mark read: ${mark.code}; order ended CONFIRMED; bob's lists and notification stream hold nothing of it`;
    }));
});

async function gqlEventually<T>(fn: () => Promise<GqlAnswer<T>>, ok: (r: GqlAnswer<T>) => boolean, timeoutMs = 20_000): Promise<GqlAnswer<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fn();
    if (ok(r) || Date.now() > deadline) return r;
    await sleep(300);
  }
}

describe('WebSocket abuse', () => {
  it('JWTs refused on HTTP are refused on connection_init with 4403/4401', () =>
    hostile('forged / expired / alg none JWTs (WebSocket)', async () => {
      const now = Math.floor(Date.now() / 1000);
      const bad = [
        await hs256({ sub: alice.name, exp: now + 600 }, 'not-the-secret-but-long-enough-0123456789'),
        await hs256({ sub: alice.name, iat: now - 7_200, exp: now - 3_600 }, DEV_SECRETS.jwt),
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: alice.name, roles: ['admin'], exp: now + 600 })}.`,
      ];
      const codes: (number | 'open')[] = [];
      for (const token of bad) {
        const c = await openRaw();
        c.send({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } });
        codes.push(await closeCode(c));
      }
      for (const code of codes) expect([4401, 4403]).toContain(code);
      return `close codes ${codes.join(', ')}`;
    }));

  it('malformed frames close the connection with the graphql-ws 4xxx codes', () =>
    hostile('malformed WebSocket frames', async () => {
      const out: string[] = [];
      const expectClose = async (name: string, c: RawWs, codes: number[]) => {
        const code = await closeCode(c);
        expect(codes, `${name}: ${code} (${JSON.stringify(c.messages).slice(0, 200)})`).toContain(code);
        out.push(`${name} → ${code}`);
      };
      let c = await initialised(alice.token);
      c.send('this is not json');
      await expectClose('non-JSON', c, [4400]);
      c = await initialised(alice.token);
      c.send({ type: 'launch_missiles', payload: {} });
      await expectClose('unknown type', c, [4400]);
      c = await initialised(alice.token);
      c.send({ type: 'subscribe', payload: { query: 'subscription { notificationAdded { id } }' } });
      await expectClose('subscribe without id', c, [4400]);
      c = await openRaw();
      c.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { notificationAdded { id } }' } });
      await expectClose('subscribe before connection_init', c, [4401]);
      c = await initialised(alice.token);
      c.send({ type: 'connection_init', payload: { Authorization: `Bearer ${alice.token}` } });
      await expectClose('second connection_init', c, [4429]);
      c = await initialised(alice.token);
      const sub = { id: 'same', type: 'subscribe', payload: { query: `subscription { stockChanged(productId: "${product.id}") { id } }` } };
      c.send(sub);
      c.send(sub);
      await expectClose('duplicate subscription id', c, [4409]);
      c = await initialised(alice.token);
      c.send({ id: 'big', type: 'subscribe', payload: { query: `subscription { notificationAdded { id } } #${'x'.repeat(200 * 1024)}` } });
      await expectClose('oversized message (200 KiB)', c, [1009, 4400, 4413]);
      c = await openRaw();
      c.send(Buffer.from([0xff, 0xfe, 0xfd]));
      await expectClose('binary garbage before init', c, [4400, 1007, 1003]);
      // A subprotocol the server does not speak: refused at the upgrade or closed at once.
      const wrong = await openRaw('graphql-ws-but-wrong').then(
        async (w) => `closed ${await closeCode(w, 5_000)}`,
        (err: Error) => `upgrade refused (${err.message.slice(0, 60)})`,
      );
      expect(wrong).not.toBe('closed open');
      out.push(`wrong subprotocol → ${wrong}`);
      // A query with a syntax error is an error message on the operation, not a dead connection.
      c = await initialised(alice.token);
      c.send({ id: 'bad', type: 'subscribe', payload: { query: 'subscription { orderStatusChanged(' } });
      expect(await c.waitFor((m) => m.id === 'bad' && m.type === 'error')).toBe(true);
      out.push('syntax error → error message');
      c.ws.close();
      return out.join('; ');
    }));

  it(`more than ${WS_CONNECTION_LIMIT} connections from one client are refused with 4429; the rest keep working`, () =>
    hostile(`connection flood (${WS_CONNECTION_LIMIT + 15} connections, one customer)`, async () => {
      const flooder = await harness().customer('flooder');
      const conns = await Promise.all(Array.from({ length: WS_CONNECTION_LIMIT + 15 }, () => openRaw().catch(() => undefined)));
      for (const c of conns) c?.send({ type: 'connection_init', payload: { Authorization: `Bearer ${flooder.token}` } });
      await sleep(2_000);
      const acked = conns.filter((c) => c?.messages.some((m) => m.type === 'connection_ack')).length;
      const refused = await Promise.all(conns.filter((c) => c && !c.messages.some((m) => m.type === 'connection_ack')).map((c) => closeCode(c!, 3_000)));
      expect(acked).toBeLessThanOrEqual(WS_CONNECTION_LIMIT);
      expect(refused.length).toBeGreaterThanOrEqual(15);
      for (const code of refused) expect(code).toBe(4429);
      for (const c of conns) c?.ws.close();
      await sleep(500);
      // Another customer was never affected, and the flooder may connect again once its connections closed.
      (await initialised(alice.token)).ws.close();
      const again = await gqlEventually(
        async () => {
          const ok = await initialised(flooder.token).then(
            (c) => (c.ws.close(), true),
            () => false,
          );
          return { outcome: ok ? 'ok' : 'network', ms: 0 } as GqlAnswer<unknown>;
        },
        (r) => r.outcome === 'ok',
        10_000,
      );
      expect(again.outcome).toBe('ok');
      return `${acked} acknowledged, ${refused.length} closed with ${[...new Set(refused)].join('/')}`;
    }));

  it('200 subscribe messages sent at once are each served or refused with a code; the gateway stays up', () =>
    hostile('subscribe flood (200 messages on one connection)', async () => {
      const c = await initialised(alice.token);
      for (let i = 0; i < 200; i++) c.send({ id: `f${i}`, type: 'subscribe', payload: { query: `subscription { stockChanged(productId: "${product.id}") { id stock { available } } }` } });
      await sleep(3_000);
      const errors = c.messages.filter((m) => m.type === 'error');
      const codes = errors.map((m) => JSON.stringify(m.payload).match(/"code":"([A-Z_]+)"/)?.[1] ?? 'NO_CODE');
      expect(codes.filter((x) => x === 'NO_CODE' || x === 'INTERNAL_SERVER_ERROR')).toEqual([]);
      const closed = await Promise.race([c.closed.then((r) => r.code), sleep(10).then(() => undefined)]);
      if (closed !== undefined) expect(closed).toBeGreaterThanOrEqual(4000);
      c.ws.close();
      await sleep(1_000);
      const res = await fetch(new URL('/healthz', url));
      expect(res.status).toBe(200);
      (await initialised(alice.token)).ws.close();
      const byCode = Object.entries(codes.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {}));
      return `${200 - errors.length} served, ${errors.length} refused (${byCode.map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'})${closed ? `, closed ${closed}` : ''}`;
    }));
});

describe('subgraphs reached directly', () => {
  it('a subgraph WebSocket refuses a connection_init the gateway did not sign, and bounds messages', () =>
    hostile('direct subgraph WebSocket without identity / oversized', async () => {
      const out: string[] = [];
      for (const name of ['orders', 'inventory', 'notifications'] as const) {
        const sub = harness().system.subgraphUrls[name][0]!;
        const code = await new Promise<number>((resolve, reject) => {
          const ws = new WebSocket(sub.replace(/^http/, 'ws'), ['graphql-transport-ws']);
          ws.once('error', reject);
          ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
          ws.once('close', (c) => resolve(c));
        });
        expect(code, name).toBe(4403);
        out.push(`${name}: ${code}`);
      }
      const orders = harness().system.subgraphUrls.orders[0]!;
      const oversized = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(orders.replace(/^http/, 'ws'), ['graphql-transport-ws']);
        ws.once('error', reject);
        ws.once('open', () => ws.send('x'.repeat(2 * 1024 * 1024)));
        ws.once('close', (c) => resolve(c));
      });
      expect(oversized).toBe(1009);
      out.push(`2 MiB message: ${oversized}`);
      return out.join('; ');
    }));
});

describe('malformed events on every topic', () => {
  it('each is dead-lettered with its original bytes, by every consumer group that reads its type, and consumers go on', () =>
    hostile('malformed events written to every topic', async () => {
      const hh = harness();
      const producer = await poisonProducer(hh.kafka);
      const injected: InjectedPoison[] = [];
      try {
        for (const topic of ALL_TOPICS) {
          for (const p of poisonCatalogue(topic, `${hh.runId}-hostile`, 'hostile')) {
            try {
              injected.push(...(await injectPoison(producer, topic, [p])));
            } catch (err) {
              hh.notes.push(`broker refused poison "${p.label}" on ${topic}: ${String(err)}`);
            }
          }
        }
      } finally {
        await producer.disconnect();
      }
      let result = checkDeadLetters(injected, [], ALL_TOPICS);
      let found = 0;
      const deadline = Date.now() + 45_000;
      while (Date.now() < deadline) {
        const letters = await hh.readAllDeadLetters();
        found = letters.length;
        result = checkDeadLetters(injected, letters, ALL_TOPICS);
        if (result.passed) break;
        await sleep(2_000);
      }
      poisonFigures = { injected: injected.length, found };
      expect(result.violations).toEqual([]);
      return `${injected.length} injected over ${ALL_TOPICS.length} topics; ${found} dead letters (${result.notes?.duplicateDeadLetters ?? 0} duplicates)`;
    }));
});

describe('afterwards', () => {
  it('every process is alive and healthy, and a normal order completes end to end', () =>
    hostile('all processes alive; a normal order completes', async () => {
      const hh = harness();
      const health = await hh.processHealth();
      processes = health.map(({ name, alive, healthy }) => ({ name, alive, healthy }));
      expect(health.filter((p) => !p.alive || !p.healthy).map((p) => p.name)).toEqual([]);
      const carol = await hh.customer('carol');
      const rec = await hh.placeOrder(carol, [{ productId: product.id, quantity: 1 }], 'tok_visa');
      expect(rec.orderId).toBeTruthy();
      const sub = hh.watch(carol, rec.orderId!, 0);
      await Promise.race([sub.finished, sleep(30_000)]);
      sub.stop();
      const statuses = sub.record.segments.flatMap((s) => s.events.map((e) => e.status));
      expect(statuses).toEqual(['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED']);
      return `${health.length} processes healthy; order ${statuses.join(' → ')}`;
    }));
});
