/**
 * A stand-in for the whole system, for developing the web demo and its browser test without the real
 * gateway, subgraphs and broker. It speaks the public API of shared/API.md (HTTP + graphql-ws, dev tokens,
 * CORS) and runs a simulated saga in memory. NOT the system under test: the browser test uses
 * `test/support/system.ts` unless SHOP_SYSTEM=mock.
 *
 * Also runnable by hand: `node --import tsx test/browser/mock-system.ts` (gateway on :4000, demo on :5173).
 */
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

// The same `graphql` instance graphql-ws loads (Node's resolution), not the ESM copy a test runner may pick.
const { buildSchema, GraphQLError, graphql } = createRequire(import.meta.url)('graphql') as typeof import('graphql');
type GraphQLError = import('graphql').GraphQLError;

const SDL = /* GraphQL */ `
  scalar DateTime
  type Money { amount: Int! currency: String! }
  enum OrderStatus { PENDING INVENTORY_RESERVED PAYMENT_AUTHORIZED CONFIRMED REJECTED CANCELLED }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type Query {
    order(id: ID!): Order
    myOrders(first: Int = 20, after: String): OrderConnection!
    product(id: ID!): Product
    products(first: Int = 50, after: String): ProductConnection!
    myNotifications(first: Int = 20, after: String, unreadOnly: Boolean = false): NotificationConnection!
    unreadNotificationCount: Int!
  }
  type Mutation {
    placeOrder(input: PlaceOrderInput!): PlaceOrderPayload!
    cancelOrder(id: ID!): Order!
    restock(productId: ID!, quantity: Int!): Product!
    markNotificationRead(id: ID!): Notification!
  }
  type Subscription {
    orderStatusChanged(orderId: ID!, after: Int): OrderStatusChange!
    notificationAdded: Notification!
    stockChanged(productId: ID!): Product!
  }
  input PlaceOrderInput { lines: [OrderLineInput!]! paymentToken: String! idempotencyKey: String }
  input OrderLineInput { productId: ID! quantity: Int! }
  type PlaceOrderPayload { order: Order! }
  type Order { id: ID! customerId: ID! status: OrderStatus! lines: [OrderLine!]! total: Money! history: [OrderStatusChange!]! createdAt: DateTime! updatedAt: DateTime! notifications: [Notification!]! }
  type OrderLine { product: Product! quantity: Int! unitPrice: Money! }
  type OrderStatusChange { orderId: ID! sequence: Int! status: OrderStatus! previous: OrderStatus reason: String at: DateTime! order: Order! }
  type Product { id: ID! name: String! description: String! price: Money! stock: Stock! }
  type Stock { available: Int! reserved: Int! sold: Int! }
  type Notification { id: ID! orderId: ID! kind: String! message: String! createdAt: DateTime! read: Boolean! }
  type OrderConnection { edges: [OrderEdge!]! pageInfo: PageInfo! }
  type OrderEdge { cursor: String! node: Order! }
  type ProductConnection { edges: [ProductEdge!]! pageInfo: PageInfo! }
  type ProductEdge { cursor: String! node: Product! }
  type NotificationConnection { edges: [NotificationEdge!]! pageInfo: PageInfo! }
  type NotificationEdge { cursor: String! node: Notification! }
`;

type Status = 'PENDING' | 'INVENTORY_RESERVED' | 'PAYMENT_AUTHORIZED' | 'CONFIRMED' | 'REJECTED' | 'CANCELLED';
const FINAL: Status[] = ['CONFIRMED', 'REJECTED', 'CANCELLED'];
interface Money { amount: number; currency: string }
interface ProductRec { id: string; name: string; description: string; price: Money; stock: { available: number; reserved: number; sold: number } }
interface Change { orderId: string; sequence: number; status: Status; previous: Status | null; reason: string | null; at: string }
interface OrderRec {
  id: string; customerId: string; status: Status; lines: { productId: string; quantity: number; unitPrice: Money }[];
  total: Money; history: Change[]; createdAt: string; updatedAt: string; paymentToken: string; reserved: boolean;
}
interface NotificationRec { id: string; customerId: string; orderId: string; kind: string; message: string; createdAt: string; read: boolean }
interface Identity { sub: string; roles: string[] }

const CATALOG: [string, string, string, number, number][] = [
  ['p-001', 'Espresso beans', 'Dark roast, 1 kg bag from a small roastery.', 1899, 40],
  ['p-002', 'Pour-over kettle', 'Gooseneck kettle with a thermometer in the lid.', 4500, 12],
  ['p-003', 'Ceramic mug', 'Hand-glazed, holds 350 ml, dishwasher safe.', 1250, 25],
  ['p-004', 'Paper filters', 'Pack of 100 unbleached cone filters.', 599, 60],
  ['p-005', 'Burr grinder', 'Conical steel burrs, 40 grind settings.', 12900, 4],
  ['p-006', 'Milk frother', 'Handheld, battery powered, whisks in 15 s.', 1599, 3],
];

function b64url(v: object): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}
function devToken(sub: string, roles: string[]): string {
  const now = Math.floor(Date.now() / 1000);
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub, roles, iat: now, exp: now + 3600 })}.mock`;
}
function verify(header: unknown): Identity | null {
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return null;
  const part = header.slice(7).split('.')[1];
  if (!part) return null;
  try {
    const p = JSON.parse(Buffer.from(part, 'base64url').toString()) as { sub?: string; roles?: string[]; exp?: number };
    if (!p.sub || (p.exp && p.exp * 1000 < Date.now())) return null;
    return { sub: p.sub, roles: p.roles ?? [] };
  } catch {
    return null;
  }
}
function gqlError(message: string, code: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

function listen<T>(bus: EventEmitter, channel: string, replay: T[], wrap: (v: T) => unknown): AsyncGenerator<unknown> {
  const queue: T[] = [...replay];
  let wake: (() => void) | null = null;
  const on = (v: T) => {
    queue.push(v);
    wake?.();
  };
  bus.on(channel, on);
  return (async function* () {
    try {
      for (;;) {
        while (queue.length > 0) yield wrap(queue.shift() as T);
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    } finally {
      bus.off(channel, on);
    }
  })();
}

export interface MockSystem {
  gatewayUrl: string;
  webDemoUrl: string;
  redisUrl: string;
  kafkaBrokers: string[];
  token(sub: string, roles?: string[]): Promise<string>;
  /** Simulates the gateway going away and coming back (HTTP refused, sockets dropped). */
  outage(ms: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startSystem(opts: { sagaDeadlineMs?: number; gatewayPort?: number; webPort?: number; stepDelayMs?: number } = {}): Promise<MockSystem> {
  const deadlineMs = opts.sagaDeadlineMs ?? 10_000;
  const stepMs = opts.stepDelayMs ?? 400;
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const products = new Map<string, ProductRec>(
    CATALOG.map(([id, name, description, amount, available]) => [id, { id, name, description, price: { amount, currency: 'USD' }, stock: { available, reserved: 0, sold: 0 } }]),
  );
  const orders = new Map<string, OrderRec>();
  const byKey = new Map<string, string>();
  const notifications: NotificationRec[] = [];
  let seq = 0;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const stockChanged = (p: ProductRec) => bus.emit(`stock:${p.id}`, p);
  const notify = (o: OrderRec, kind: string, message: string) => {
    const n: NotificationRec = { id: `n-${++seq}`, customerId: o.customerId, orderId: o.id, kind, message, createdAt: new Date().toISOString(), read: false };
    notifications.unshift(n);
    bus.emit(`notif:${o.customerId}`, n);
  };
  const transition = (o: OrderRec, status: Status, reason: string | null = null) => {
    if (FINAL.includes(o.status) && o.history.length > 0) return;
    const change: Change = { orderId: o.id, sequence: o.history.length + 1, status, previous: o.history.length ? o.status : null, reason, at: new Date().toISOString() };
    o.history.push(change);
    o.status = status;
    o.updatedAt = change.at;
    bus.emit(`order:${o.id}`, change);
    if (status === 'CONFIRMED') notify(o, 'ORDER_CONFIRMED', `Order ${o.id.slice(0, 8)} is confirmed.`);
    if (status === 'REJECTED') notify(o, 'ORDER_REJECTED', `Order ${o.id.slice(0, 8)} was rejected: ${reason}.`);
    if (status === 'CANCELLED') notify(o, 'ORDER_CANCELLED', `Order ${o.id.slice(0, 8)} was cancelled: ${reason}.`);
    if (status === 'CANCELLED' && o.reserved) {
      o.reserved = false;
      for (const l of o.lines) {
        const p = products.get(l.productId)!;
        p.stock.available += l.quantity;
        p.stock.reserved -= l.quantity;
        stockChanged(p);
      }
    }
    if (status === 'CONFIRMED') {
      o.reserved = false;
      for (const l of o.lines) {
        const p = products.get(l.productId)!;
        p.stock.reserved -= l.quantity;
        p.stock.sold += l.quantity;
        stockChanged(p);
      }
    }
  };
  const runSaga = (o: OrderRec) => {
    later(stepMs, () => {
      const short = o.lines.find((l) => products.get(l.productId)!.stock.available < l.quantity);
      if (short) return transition(o, 'REJECTED', `not enough stock for ${short.productId}`);
      for (const l of o.lines) {
        const p = products.get(l.productId)!;
        p.stock.available -= l.quantity;
        p.stock.reserved += l.quantity;
        stockChanged(p);
      }
      o.reserved = true;
      transition(o, 'INVENTORY_RESERVED');
      later(stepMs, () => {
        if (o.status !== 'INVENTORY_RESERVED') return;
        if (o.paymentToken === 'tok_visa') {
          transition(o, 'PAYMENT_AUTHORIZED');
          later(stepMs / 2, () => transition(o, 'CONFIRMED'));
        } else if (o.paymentToken === 'tok_declined') {
          transition(o, 'CANCELLED', 'payment declined');
        }
      });
    });
    later(deadlineMs, () => transition(o, 'CANCELLED', 'payment timed out (saga deadline)'));
  };

  const me = (ctx: { identity: Identity | null }): Identity => {
    if (!ctx.identity) throw gqlError('Sign in first', 'UNAUTHENTICATED');
    return ctx.identity;
  };
  const orderView = (o: OrderRec) => ({
    ...o,
    lines: o.lines.map((l) => ({ ...l, product: products.get(l.productId) })),
    history: o.history.map((h) => ({ ...h, order: () => orderView(o) })),
    notifications: notifications.filter((n) => n.orderId === o.id),
  });
  const conn = <T extends { id: string }>(items: T[], first: number, after: string | null | undefined) => {
    const start = after ? items.findIndex((i) => i.id === after) + 1 : 0;
    const page = items.slice(start, start + first);
    return { edges: page.map((node) => ({ cursor: node.id, node })), pageInfo: { hasNextPage: start + first < items.length, endCursor: page.at(-1)?.id ?? null } };
  };
  type Ctx = { identity: Identity | null };
  type A = Record<string, unknown>;
  const visibleOrder = (id: string, ctx: Ctx) => {
    const who = me(ctx);
    const o = orders.get(id);
    if (!o || (o.customerId !== who.sub && !who.roles.includes('admin'))) return null;
    return o;
  };

  const root = {
    products: (a: A) => conn([...products.values()], (a['first'] as number) ?? 50, a['after'] as string),
    product: (a: A) => products.get(a['id'] as string) ?? null,
    order: (a: A, ctx: Ctx) => {
      const o = visibleOrder(a['id'] as string, ctx);
      return o ? orderView(o) : null;
    },
    myOrders: (a: A, ctx: Ctx) => {
      const who = me(ctx);
      const mine = [...orders.values()].filter((o) => o.customerId === who.sub).reverse().map(orderView);
      return conn(mine, (a['first'] as number) ?? 20, a['after'] as string);
    },
    myNotifications: (a: A, ctx: Ctx) => conn(notifications.filter((n) => n.customerId === me(ctx).sub), (a['first'] as number) ?? 20, a['after'] as string),
    unreadNotificationCount: (_a: A, ctx: Ctx) => notifications.filter((n) => n.customerId === me(ctx).sub && !n.read).length,
    placeOrder: (a: A, ctx: Ctx) => {
      const who = me(ctx);
      const input = a['input'] as { lines: { productId: string; quantity: number }[]; paymentToken: string; idempotencyKey?: string };
      if (input.lines.length === 0) throw gqlError('An order needs at least one line', 'BAD_USER_INPUT');
      for (const l of input.lines) {
        if (!products.has(l.productId)) throw gqlError(`Unknown product ${l.productId}`, 'BAD_USER_INPUT');
        if (l.quantity < 1 || l.quantity > 1000) throw gqlError(`Quantity must be between 1 and 1000 (line ${l.productId})`, 'BAD_USER_INPUT');
      }
      const key = input.idempotencyKey ? `${who.sub}:${input.idempotencyKey}` : null;
      const existing = key ? byKey.get(key) : undefined;
      if (existing) return { order: orderView(orders.get(existing)!) };
      const now = new Date().toISOString();
      const lines = input.lines.map((l) => ({ ...l, unitPrice: products.get(l.productId)!.price }));
      const o: OrderRec = {
        id: `o-${Date.now().toString(36)}-${(++seq).toString(36)}`, customerId: who.sub, status: 'PENDING', lines,
        total: { amount: lines.reduce((n, l) => n + l.unitPrice.amount * l.quantity, 0), currency: 'USD' },
        history: [], createdAt: now, updatedAt: now, paymentToken: input.paymentToken, reserved: false,
      };
      orders.set(o.id, o);
      if (key) byKey.set(key, o.id);
      transition(o, 'PENDING');
      runSaga(o);
      return { order: orderView(o) };
    },
    cancelOrder: (a: A, ctx: Ctx) => {
      const o = visibleOrder(a['id'] as string, ctx);
      if (!o) throw gqlError('No such order', 'NOT_FOUND');
      if (FINAL.includes(o.status)) throw gqlError(`Order is already ${o.status}`, 'CONFLICT');
      later(100, () => transition(o, 'CANCELLED', 'cancelled by the customer'));
      return orderView(o);
    },
    restock: (a: A, ctx: Ctx) => {
      if (!me(ctx).roles.includes('admin')) throw gqlError('Admins only', 'FORBIDDEN');
      const p = products.get(a['productId'] as string);
      if (!p) throw gqlError('Unknown product', 'BAD_USER_INPUT');
      p.stock.available += a['quantity'] as number;
      stockChanged(p);
      return p;
    },
    markNotificationRead: (a: A, ctx: Ctx) => {
      const n = notifications.find((x) => x.id === a['id'] && x.customerId === me(ctx).sub);
      if (!n) throw gqlError('No such notification', 'NOT_FOUND');
      n.read = true;
      return n;
    },
    orderStatusChanged: (a: A, ctx: Ctx) => {
      const o = visibleOrder(a['orderId'] as string, ctx);
      if (!o) throw gqlError('No such order', 'NOT_FOUND');
      const after = (a['after'] as number | null) ?? 0;
      return listen<Change>(bus, `order:${o.id}`, o.history.filter((h) => h.sequence > after), (c) => ({
        orderStatusChanged: { ...c, order: () => orderView(o) },
      }));
    },
    notificationAdded: (_a: A, ctx: Ctx) => listen(bus, `notif:${me(ctx).sub}`, [], (n) => ({ notificationAdded: n })),
    stockChanged: (a: A) => listen(bus, `stock:${a['productId'] as string}`, [], (p) => ({ stockChanged: p })),
  };
  const schema = buildSchema(SDL);

  // ---- HTTP + WS gateway
  let down = false;
  const cors = (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('access-control-allow-origin', req.headers.origin ?? '*');
    res.setHeader('vary', 'origin');
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    res.setHeader('access-control-allow-headers', 'content-type, authorization, x-correlation-id, apollo-require-preflight');
    res.setHeader('access-control-max-age', '600');
  };
  const gateway: Server = createServer(async (req, res) => {
    if (down) return req.socket.destroy();
    cors(req, res);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    if (url.pathname === '/healthz' || url.pathname === '/readyz') return void res.writeHead(200).end('ok');
    if (url.pathname === '/auth/dev-token') {
      const sub = url.searchParams.get('sub');
      if (!sub) return void res.writeHead(400).end();
      const roles = url.searchParams.get('roles')?.split(',').filter(Boolean) ?? [];
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: devToken(sub, roles) }));
    }
    if (url.pathname === '/graphql' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { query: string; variables?: A; operationName?: string };
      const identity = verify(req.headers.authorization);
      if (req.headers.authorization && !identity) {
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({ errors: [{ message: 'Invalid or expired token', extensions: { code: 'UNAUTHENTICATED' } }] }),
        );
      }
      const result = await graphql({ schema, source: body.query, variableValues: body.variables ?? null, operationName: body.operationName ?? null, rootValue: root, contextValue: { identity } });
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server: gateway, path: '/graphql' });
  useServer<Record<string, unknown>, { identity: Identity | null }>(
    {
      schema,
      roots: { subscription: root, query: root, mutation: root },
      onConnect: (ctx) => {
        if (down) return false;
        const auth = ctx.connectionParams?.['Authorization'] ?? ctx.connectionParams?.['authorization'];
        if (auth === undefined) return true;
        const identity = verify(auth);
        if (!identity) return false; // 4403 Forbidden
        ctx.extra.identity = identity;
        return true;
      },
      context: (ctx) => ({ identity: ctx.extra.identity ?? null }),
    },
    wss,
  );
  await new Promise<void>((r) => gateway.listen(opts.gatewayPort ?? 0, '127.0.0.1', r));
  const gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/graphql`;

  // ---- static server for web-demo/dist
  const dist = fileURLToPath(new URL('../../web-demo/dist/', import.meta.url));
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.map': 'application/json' };
  const web = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dist, path === '/' ? 'index.html' : path);
    try {
      const data = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(data);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((r) => web.listen(opts.webPort ?? 0, '127.0.0.1', r));
  const webDemoUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}/?gateway=${encodeURIComponent(gatewayUrl)}`;

  return {
    gatewayUrl,
    webDemoUrl,
    redisUrl: 'redis://mock',
    kafkaBrokers: [],
    token: async (sub, roles = []) => devToken(sub, roles),
    async outage(ms) {
      // Like a gateway crash and restart: the port refuses connections for `ms`, then listens again.
      down = true;
      const port = (gateway.address() as AddressInfo).port;
      for (const c of wss.clients) c.terminate();
      gateway.closeAllConnections();
      await new Promise((r) => gateway.close(r));
      await new Promise((r) => setTimeout(r, ms));
      down = false;
      await new Promise<void>((r) => gateway.listen(port, '127.0.0.1', r));
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(() => r(undefined)));
      gateway.closeAllConnections();
      web.closeAllConnections();
      await Promise.all([new Promise((r) => gateway.close(r)), new Promise((r) => web.close(r))]);
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const sys = await startSystem({ gatewayPort: 4000, webPort: 5173, sagaDeadlineMs: Number(process.env['SAGA_DEADLINE_MS'] ?? 10_000) });
  console.log(`mock gateway ${sys.gatewayUrl}\nweb demo     ${sys.webDemoUrl}`);
}
