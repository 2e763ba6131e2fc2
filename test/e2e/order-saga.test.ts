// The saga as a client sees it, through the gateway, with every service a separate process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, errorCode, graphql, wsClient } from '../support/clients.js';
import {
  CANCEL_ORDER,
  FINAL_STATUSES,
  RESTOCK,
  WATCH_ORDER,
  getOrder,
  getProduct,
  listProducts,
  placeOrder,
  waitForStatus,
  type Product,
  type StatusChange,
} from '../support/shop.js';
import { startSystem, type TestSystem } from '../support/system.js';

let system: TestSystem;
let alice: string;
let bob: string;
let admin: string;
let products: Product[];

beforeAll(async () => {
  system = await startSystem({ sagaDeadlineMs: 4_000, env: { RATE_LIMIT: '100000' } });
  [alice, bob, admin] = await Promise.all([system.token('alice'), system.token('bob'), system.token('admin', ['admin'])]);
  products = await listProducts(system.gatewayUrl);
});

afterAll(async () => {
  await system?.stop();
});

const url = () => system.gatewayUrl;
const inStock = (min: number, skip = 0) => products.filter((p) => p.stock.available >= min)[skip]!;

describe('placing orders through the gateway', () => {
  it('serves a catalog of at least 20 products with stock', () => {
    expect(products.length).toBeGreaterThanOrEqual(20);
    for (const p of products) {
      expect(p.price.amount).toBeGreaterThan(0);
      expect(p.stock.available).toBeGreaterThanOrEqual(0);
    }
  });

  it('moves an approved order to CONFIRMED and pushes every change with fields from all subgraphs', async () => {
    const product = inStock(2);
    const before = await getProduct(url(), product.id);
    const order = await placeOrder(url(), alice, { lines: [{ productId: product.id, quantity: 2 }], paymentToken: 'tok_visa' });
    expect(order.status).toBe('PENDING');

    const client = wsClient(url(), alice);
    const { events, errors } = await collect<{ orderStatusChanged: StatusChange }>(
      client,
      WATCH_ORDER,
      { orderId: order.id, after: 0 },
      (evs) => evs.some((e) => e.orderStatusChanged.status === 'CONFIRMED'),
    );
    await client.dispose();
    expect(errors).toEqual([]);
    const changes = events.map((e) => e.orderStatusChanged);
    expect(changes.map((c) => c.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED', 'CONFIRMED']);
    expect(changes.map((c) => c.sequence)).toEqual([1, 2, 3, 4]);
    expect(changes[0]!.previous).toBeNull();
    expect(changes[3]!.previous).toBe('PAYMENT_AUTHORIZED');
    // Fields owned by inventory (product name) arrive in every event.
    expect(changes[3]!.order.lines[0]!.product.name).toBe(product.name);

    const confirmed = await waitForStatus(url(), alice, order.id, ['CONFIRMED']);
    expect(confirmed.history.map((h) => h.sequence)).toEqual([1, 2, 3, 4]);
    const after = await getProduct(url(), product.id);
    expect(after.stock.available).toBe(before.stock.available - 2);
    expect(after.stock.sold).toBe(before.stock.sold + 2);
    expect(after.stock.reserved).toBe(before.stock.reserved);

    // notifications contributes Order.notifications once it has seen the confirmation.
    const withNotes = await waitForNotifications(order.id, alice);
    expect(withNotes.some((n) => /confirm/i.test(n.kind + n.message))).toBe(true);
  });

  it('cancels a declined payment and releases the reserved stock', async () => {
    const product = inStock(1, 1);
    const before = await getProduct(url(), product.id);
    const order = await placeOrder(url(), alice, { lines: [{ productId: product.id, quantity: 1 }], paymentToken: 'tok_declined' });
    const final = await waitForStatus(url(), alice, order.id, FINAL_STATUSES);
    expect(final.status).toBe('CANCELLED');
    expect(final.history.map((h) => h.status)).toEqual(['PENDING', 'INVENTORY_RESERVED', 'CANCELLED']);
    expect(final.history.at(-1)!.reason).toMatch(/declin/i);
    const after = await getProduct(url(), product.id);
    expect(after.stock.available).toBe(before.stock.available);
    expect(after.stock.reserved).toBe(before.stock.reserved);
  });

  it('rejects an order for more than is in stock and leaves the stock unchanged', async () => {
    const product = inStock(1, 2);
    const before = await getProduct(url(), product.id);
    const order = await placeOrder(url(), alice, {
      lines: [{ productId: product.id, quantity: Math.min(1000, before.stock.available + 1) }],
      paymentToken: 'tok_visa',
    });
    if (before.stock.available + 1 > 1000) throw new Error('test product has too much stock for this test');
    const final = await waitForStatus(url(), alice, order.id, FINAL_STATUSES);
    expect(final.status).toBe('REJECTED');
    expect(final.history.at(-1)!.reason).toContain(product.id);
    const after = await getProduct(url(), product.id);
    expect(after.stock).toEqual(before.stock);
  });

  it('cancels an order with no payment answer at the saga deadline', async () => {
    const product = inStock(1, 3);
    const before = await getProduct(url(), product.id);
    const order = await placeOrder(url(), alice, { lines: [{ productId: product.id, quantity: 1 }], paymentToken: 'tok_timeout' });
    const final = await waitForStatus(url(), alice, order.id, FINAL_STATUSES, 30_000);
    expect(final.status).toBe('CANCELLED');
    expect(final.history.at(-1)!.reason).toMatch(/deadline/i);
    const after = await getProduct(url(), product.id);
    expect(after.stock.available).toBe(before.stock.available);
  });

  it('cancels on request before confirmation, and refuses to cancel a confirmed order', async () => {
    const product = inStock(1, 4);
    const pending = await placeOrder(url(), alice, { lines: [{ productId: product.id, quantity: 1 }], paymentToken: 'tok_timeout' });
    const cancelled = await graphql<{ cancelOrder: { status: string } }>(url(), CANCEL_ORDER, { id: pending.id }, { token: alice });
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data!.cancelOrder.status).toBe('CANCELLED');

    const confirmed = await placeOrder(url(), alice, { lines: [{ productId: product.id, quantity: 1 }], paymentToken: 'tok_visa' });
    await waitForStatus(url(), alice, confirmed.id, ['CONFIRMED']);
    const refused = await graphql(url(), CANCEL_ORDER, { id: confirmed.id }, { token: alice });
    expect(errorCode(refused)).toBe('CONFLICT');
  });

  it('returns the same order for the same idempotency key, and a new one for another customer', async () => {
    const product = inStock(1, 5);
    const input = { lines: [{ productId: product.id, quantity: 1 }], paymentToken: 'tok_visa', idempotencyKey: 'checkout-42' };
    const [a, b] = await Promise.all([placeOrder(url(), alice, input), placeOrder(url(), alice, input)]);
    expect(b.id).toBe(a.id);
    const again = await placeOrder(url(), alice, input);
    expect(again.id).toBe(a.id);
    const other = await placeOrder(url(), bob, input);
    expect(other.id).not.toBe(a.id);
  });

  it('refuses bad input with BAD_USER_INPUT and creates nothing', async () => {
    const product = inStock(1);
    const cases = [
      { lines: [], paymentToken: 'tok_visa' },
      { lines: [{ productId: product.id, quantity: 0 }], paymentToken: 'tok_visa' },
      { lines: [{ productId: product.id, quantity: 1001 }], paymentToken: 'tok_visa' },
      { lines: [{ productId: 'prd_doesnotexist000', quantity: 1 }], paymentToken: 'tok_visa' },
      { lines: [{ productId: '../../etc/passwd', quantity: 1 }], paymentToken: 'tok_visa' },
      { lines: Array.from({ length: 51 }, () => ({ productId: product.id, quantity: 1 })), paymentToken: 'tok_visa' },
    ];
    const mine = async () => (await graphql<{ myOrders: { edges: unknown[] } }>(url(), 'query { myOrders(first: 100) { edges { cursor } } }', {}, { token: bob })).data!.myOrders.edges.length;
    const countBefore = await mine();
    for (const input of cases) {
      const r = await graphql(url(), 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } } }', { input }, { token: bob });
      expect(errorCode(r), JSON.stringify(input).slice(0, 80)).toBe('BAD_USER_INPUT');
    }
    expect(await mine()).toBe(countBefore);
  });

  it("keeps orders private: unauthenticated callers are refused, another customer's order looks missing, admins may read", async () => {
    const product = inStock(1);
    const order = await placeOrder(url(), alice, { lines: [{ productId: product.id, quantity: 1 }], paymentToken: 'tok_visa' });
    expect(errorCode(await getOrder(url(), '', order.id))).toBe('UNAUTHENTICATED');
    const asBob = await getOrder(url(), bob, order.id);
    expect(asBob.errors).toBeUndefined();
    expect(asBob.data?.order).toBeNull();
    const asAdmin = await getOrder(url(), admin, order.id);
    expect(asAdmin.data?.order?.id).toBe(order.id);

    const bobClient = wsClient(url(), bob);
    const { events, errors } = await collect(bobClient, WATCH_ORDER, { orderId: order.id }, () => true, 10_000);
    await bobClient.dispose();
    expect(events).toEqual([]);
    expect(JSON.stringify(errors)).toContain('NOT_FOUND');
    expect(JSON.stringify(errors)).not.toContain('FORBIDDEN');

    const anonymous = wsClient(url());
    const anon = await collect(anonymous, WATCH_ORDER, { orderId: order.id }, () => true, 10_000);
    await anonymous.dispose();
    expect(anon.events).toEqual([]);
    expect(JSON.stringify(anon.errors)).toMatch(/UNAUTHENTICATED|FORBIDDEN/);
  });

  it('lets only an admin restock', async () => {
    const product = inStock(0);
    const before = await getProduct(url(), product.id);
    expect(errorCode(await graphql(url(), RESTOCK, { productId: product.id, quantity: 5 }, { token: alice }))).toBe('FORBIDDEN');
    const r = await graphql<{ restock: { stock: { available: number } } }>(url(), RESTOCK, { productId: product.id, quantity: 5 }, { token: admin });
    expect(r.errors).toBeUndefined();
    expect(r.data!.restock.stock.available).toBe(before.stock.available + 5);
  });
});

async function waitForNotifications(orderId: string, token: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await graphql<{ order: { notifications: { kind: string; message: string }[] } }>(
      url(),
      'query($id: ID!) { order(id: $id) { notifications { kind message } } }',
      { id: orderId },
      { token },
    );
    const notes = r.data?.order?.notifications ?? [];
    if (notes.some((n) => /confirm/i.test(n.kind + n.message)) || Date.now() > deadline) return notes;
    await new Promise((res) => setTimeout(res, 200));
  }
}
