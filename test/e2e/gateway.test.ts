// The gateway's own promises, against the whole running system: shared federated subscriptions,
// resumption with `after`, multipart subscriptions, APQ, CSRF prevention, limits and operability.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, errorCode, eventually, graphql, wsClient } from '../support/clients.js';
import { WATCH_ORDER, listProducts, placeOrder, type Product, type StatusChange } from '../support/shop.js';
import { startSystem, type TestSystem } from '../support/system.js';

const RATE_LIMIT = 300;
let system: TestSystem;
let products: Product[];
let origin: string;

beforeAll(async () => {
  // 50 WebSockets of one customer are more than the default per-client limit (20).
  system = await startSystem({ sagaDeadlineMs: 6_000, env: { RATE_LIMIT: String(RATE_LIMIT), WS_MAX_CONNECTIONS_PER_CLIENT: '60' } });
  products = await listProducts(system.gatewayUrl);
  origin = new URL(system.gatewayUrl).origin;
});

afterAll(async () => {
  await system?.stop();
});

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})?\s+([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const lbl = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => lbl.includes(`${k}="${v}"`))) total += Number(m[3]);
  }
  return total;
}

const product = () => products.find((p) => p.stock.available > 5)!;

describe('federated subscriptions', () => {
  it('shares one upstream subscription between 50 clients, replays history to each, and leaves none behind', async () => {
    const token = await system.token('carol');
    const order = await placeOrder(system.gatewayUrl, token, { lines: [{ productId: product().id, quantity: 1 }], paymentToken: 'tok_timeout' });
    const clients = Array.from({ length: 50 }, () => wsClient(system.gatewayUrl, token));
    const received: StatusChange[][] = clients.map(() => []);
    const errors: unknown[] = [];
    clients.forEach((client, i) =>
      client.subscribe<{ orderStatusChanged: StatusChange }>(
        { query: WATCH_ORDER, variables: { orderId: order.id, after: 0 } },
        {
          next: (value) => {
            if (value.errors) errors.push(...value.errors);
            if (value.data) received[i]!.push(value.data.orderStatusChanged);
          },
          error: (err) => errors.push(err),
          complete: () => {},
        },
      ),
    );
    // The order waits for a payment answer until the saga deadline, so all 50 stay subscribed meanwhile.
    await eventually('every client to see PENDING and INVENTORY_RESERVED', async () => (received.every((r) => r.length >= 2) ? true : undefined), 20_000);
    expect(await metric('gateway_active_subscriptions')).toBe(50);
    expect(await metric('gateway_active_upstream_subscriptions', { subgraph: 'orders' })).toBe(1);
    expect(errors).toEqual([]);
    for (const r of received) {
      expect(r.slice(0, 2).map((c) => c.sequence)).toEqual([1, 2]);
      expect(r[1]!.order.lines[0]!.product.name).toBe(product().name);
    }
    await Promise.all(clients.map((c) => c.dispose()));
    await eventually('upstream subscriptions torn down', async () => ((await metric('gateway_active_upstream_subscriptions')) === 0 ? true : undefined), 10_000);
    expect(await metric('gateway_active_subscriptions')).toBe(0);
  });

  it('resumes with `after`: a reconnecting client gets exactly what it missed', async () => {
    const token = await system.token('dave');
    const order = await placeOrder(system.gatewayUrl, token, { lines: [{ productId: product().id, quantity: 1 }], paymentToken: 'tok_timeout' });
    const first = wsClient(system.gatewayUrl, token);
    const seen = await collect<{ orderStatusChanged: StatusChange }>(first, WATCH_ORDER, { orderId: order.id }, (evs) => evs.length >= 2);
    await first.dispose();
    const last = seen.events.at(-1)!.orderStatusChanged.sequence;
    expect(last).toBe(2);

    // The saga deadline cancels it while this client is away.
    const second = wsClient(system.gatewayUrl, token);
    const resumed = await collect<{ orderStatusChanged: StatusChange }>(
      second,
      WATCH_ORDER,
      { orderId: order.id, after: last },
      (evs) => evs.some((e) => e.orderStatusChanged.status === 'CANCELLED'),
      20_000,
    );
    await second.dispose();
    expect(resumed.errors).toEqual([]);
    expect(resumed.events.map((e) => [e.orderStatusChanged.sequence, e.orderStatusChanged.status])).toEqual([[3, 'CANCELLED']]);
  });

  it('serves subscriptions over multipart HTTP', async () => {
    const token = await system.token('erin');
    const order = await placeOrder(system.gatewayUrl, token, { lines: [{ productId: product().id, quantity: 1 }], paymentToken: 'tok_visa' });
    const res = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'multipart/mixed;subscriptionSpec=1.0, application/json',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query: WATCH_ORDER, variables: { orderId: order.id, after: 0 } }),
      signal: AbortSignal.timeout(20_000),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^multipart\/mixed/);
    const statuses: string[] = [];
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = res.body!.getReader();
    while (!statuses.includes('CONFIRMED')) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const parts = buffer.split('\r\n--graphql');
      buffer = parts.pop()!;
      for (const part of parts) {
        const body = part.slice(part.indexOf('\r\n\r\n') + 4).trim();
        if (!body.startsWith('{')) continue;
        const json = JSON.parse(body) as { payload?: { data?: { orderStatusChanged: StatusChange } } };
        const change = json.payload?.data?.orderStatusChanged;
        if (change) statuses.push(change.status);
      }
    }
    await reader.cancel();
    expect(statuses).toEqual(['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED']);
  });

  it('closes a WebSocket with a forged token with 4403', async () => {
    const client = wsClient(system.gatewayUrl, 'not.a.jwt');
    const closed = await new Promise<number>((resolve) => {
      client.on('closed', (event) => resolve((event as { code: number }).code));
      client.subscribe({ query: 'subscription { notificationAdded { id } }' }, { next: () => {}, error: () => {}, complete: () => {} });
    });
    await client.dispose();
    expect(closed).toBe(4403);
  });
});

describe('HTTP', () => {
  it('supports automatic persisted queries', async () => {
    const query = '{ products(first: 1) { edges { node { id } } } }';
    const sha256Hash = createHash('sha256').update(query).digest('hex');
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    const post = (body: object) =>
      fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
    const miss = (await post({ extensions })) as { errors: { extensions: { code: string } }[] };
    expect(miss.errors[0]!.extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const register = (await post({ query, extensions })) as { data: unknown };
    expect(register.data).toBeTruthy();
    const hit = (await post({ extensions })) as { data: unknown };
    expect(hit.data).toEqual(register.data);
  });

  it('prevents CSRF: a simple GET without a preflight header is refused', async () => {
    const q = encodeURIComponent('{ __typename }');
    const simple = await fetch(`${system.gatewayUrl}?query=${q}`);
    expect(simple.status).toBe(400);
    const withHeader = await fetch(`${system.gatewayUrl}?query=${q}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(withHeader.status).toBe(200);
  });

  it('refuses too deep, too aliased and too costly queries before planning', async () => {
    let deep = 'id';
    for (let i = 0; i < 10; i++) deep = `history { order { ${deep} } }`;
    const deepQuery = `query { order(id: "ord_x") { ${deep} } }`;
    const aliases = `query { ${Array.from({ length: 40 }, (_, i) => `p${i}: product(id: "prd_${i}") { id }`).join(' ')} }`;
    const costly = 'query { myOrders(first: 100) { edges { node { lines { product { id name stock { available } } } history { status } } } } }';
    const token = await system.token('frank');
    for (const q of [deepQuery, aliases, costly]) {
      const r = await graphql(system.gatewayUrl, q, {}, { token });
      expect(errorCode(r), q.slice(0, 60)).toBe('QUERY_TOO_COMPLEX');
    }
  });

  it('refuses a body over the size limit with 413', async () => {
    const res = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ __typename } #${'x'.repeat(2 * 1024 * 1024)}` }),
    });
    expect(res.status).toBe(413);
  });

  it('rate-limits each customer separately, with RATE_LIMITED', async () => {
    const [greedy, other] = await Promise.all([system.token('greedy'), system.token('patient')]);
    const codes: (string | undefined)[] = [];
    for (let batch = 0; batch < (RATE_LIMIT + 20) / 40; batch++) {
      const rs = await Promise.all(Array.from({ length: 40 }, () => graphql(system.gatewayUrl, '{ __typename }', {}, { token: greedy })));
      codes.push(...rs.map(errorCode));
    }
    expect(codes.filter((c) => c === 'RATE_LIMITED').length).toBeGreaterThan(0);
    expect(codes.filter((c) => c === undefined).length).toBeLessThanOrEqual(RATE_LIMIT);
    const unaffected = await graphql(system.gatewayUrl, '{ __typename }', {}, { token: other });
    expect(unaffected.errors).toBeUndefined();
  });

  it('answers health, readiness and metrics, and hands out development tokens', async () => {
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
    expect((await fetch(`${origin}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${origin}/metrics`)).text();
    expect(metrics).toContain('gateway_requests_total');
    const res = await fetch(`${origin}/auth/dev-token?sub=zoe`);
    const { token } = (await res.json()) as { token: string };
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string };
    expect(payload.sub).toBe('zoe');
    for (const sub of Object.values(system.subgraphUrls).flat()) {
      const base = new URL(sub).origin;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
    }
  });

  it('serves no personal data to a direct subgraph call without the gateway identity', async () => {
    const orders = system.subgraphUrls.orders[0]!;
    const r = await graphql(orders, '{ myOrders { edges { node { id } } } }');
    expect(errorCode(r)).toBe('UNAUTHENTICATED');
    // A JWT is not enough on its own: subgraphs trust only the signed gateway header.
    const token = await system.token('alice');
    const withJwt = await graphql(orders, '{ myOrders { edges { node { id } } } }', {}, { token });
    expect(errorCode(withJwt)).toBe('UNAUTHENTICATED');
  });
});
