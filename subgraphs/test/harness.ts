/* eslint-disable @typescript-eslint/no-explicit-any -- GraphQL answers are untyped JSON; the assertions check their shape. */
/**
 * Test harness for the subgraph integration tests: a real redis-server on a free port (killed by
 * pid), the embedded broker in-process on port 0, the three services in-process, GraphQL over real
 * HTTP and graphql-ws with a signed identity.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { createClient, type Client } from 'graphql-ws';
import type { Kafka } from 'kafkajs';
import { createEvent, deterministicEventId } from '@shop/events';
import { startBroker, type Broker } from '@shop/events/broker';
import { createEventProducer, createKafka, ensureTopics, type EventProducer } from '@shop/events/kafka';
import { startRedisServer } from './redis-server.js';
import { createLogger, DEV_SECRETS, signIdentity, type Logger } from '@shop/service-kit';
import { loadOrdersConfig, startOrdersService, type OrdersService, type StartOrdersOptions } from '@shop/subgraph-orders';
import { loadInventoryConfig, startInventoryService, type InventoryService } from '@shop/subgraph-inventory';
import { loadNotificationsConfig, startNotificationsService, type NotificationsService } from '@shop/subgraph-notifications';

export { freePort, startRedisServer, type RedisServer } from './redis-server.js';

/** Subgraph name by URL, for the audience of the identity header (filled as the services start). */
const audiences = new Map<string, string>();
const audienceOf = (url: string): string => audiences.get(url.replace(/^ws/, 'http')) ?? 'unknown';

export const identityHeader = (sub: string, roles: string[] = [], audience = 'orders') => signIdentity({ sub, roles }, DEV_SECRETS.identity, audience);

export interface GraphQLResult<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export async function gql<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, as?: { sub: string; roles?: string[] }): Promise<GraphQLResult<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(as ? { 'x-shop-identity': identityHeader(as.sub, as.roles, audienceOf(url)) } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GraphQLResult<T>;
}

/** The data, or a thrown error with the GraphQL errors. */
export async function gqlOk<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, as?: { sub: string; roles?: string[] }): Promise<T> {
  const r = await gql<T>(url, query, variables, as);
  if (r.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(r.errors)}`);
  return r.data as T;
}

export function wsClient(httpUrl: string, as?: { sub: string; roles?: string[] }): Client {
  return createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: { 'x-shop-identity': as ? identityHeader(as.sub, as.roles, audienceOf(httpUrl)) : signIdentity(null, DEV_SECRETS.identity, audienceOf(httpUrl)), 'x-correlation-id': 'test-ws' },
  });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export interface TestSystem {
  readonly redisUrl: string;
  readonly redis: Redis;
  readonly broker: Broker;
  readonly kafka: Kafka;
  readonly producer: EventProducer;
  readonly logger: Logger;
  readonly orders: OrdersService;
  readonly inventory: InventoryService;
  readonly notifications: NotificationsService;
  /** Registers a product through a ProductRegistered event and waits until orders and inventory know it. */
  registerProduct(productId: string, initialStock: number, priceCents?: number): Promise<void>;
  stopServices(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestSystem(opts: { sagaDeadlineMs: number; paymentTimeoutMs?: number; orders?: StartOrdersOptions }): Promise<TestSystem> {
  const logger = createLogger('test', process.env.LOG_LEVEL ?? 'error');
  const redisServer = await startRedisServer();
  const broker = await startBroker({ port: 0, logger: logger.child({ component: 'broker' }), defaultPartitions: 6 });
  const env = {
    PORT: '0',
    REDIS_URL: redisServer.url,
    KAFKA_BROKERS: broker.address,
    SAGA_DEADLINE_MS: String(opts.sagaDeadlineMs),
    SAGA_DEADLINE_POLL_MS: '100',
    PAYMENT_TIMEOUT_MS: String(opts.paymentTimeoutMs ?? 500),
    CANCEL_WAIT_MS: '5000',
  };
  const kafka = createKafka({ brokers: [broker.address], clientId: 'test', logger });
  await ensureTopics(kafka);
  const producer = await createEventProducer({ kafka, logger });
  const redis = new Redis(redisServer.url);
  const sessionTimeoutMs = 10_000;
  const [orders, inventory, notifications] = await Promise.all([
    startOrdersService(loadOrdersConfig(env), { logger: logger.child({ service: 'orders' }), sessionTimeoutMs, ...opts.orders }),
    startInventoryService(loadInventoryConfig(env), { logger: logger.child({ service: 'inventory' }), sessionTimeoutMs }),
    startNotificationsService(loadNotificationsConfig(env), { logger: logger.child({ service: 'notifications' }), sessionTimeoutMs }),
  ]);
  audiences.set(orders.url, 'orders').set(inventory.url, 'inventory').set(notifications.url, 'notifications');
  let servicesStopped = false;
  const stopServices = async () => {
    if (servicesStopped) return;
    servicesStopped = true;
    await Promise.all([orders.close(), inventory.close(), notifications.close()]);
  };
  return {
    redisUrl: redisServer.url,
    redis,
    broker,
    kafka,
    producer,
    logger,
    orders,
    inventory,
    notifications,
    stopServices,
    async registerProduct(productId, initialStock, priceCents = 1000) {
      await producer.publish(
        createEvent(
          'ProductRegistered',
          { productId, name: `Test ${productId}`, description: 'test product', price: { amount: priceCents, currency: 'USD' }, initialStock },
          { key: productId, correlationId: 'test', id: deterministicEventId('test-product', productId) },
        ),
      );
      await waitFor(`${productId} in the catalogs`, async () => (await redis.hexists('orders:catalog', productId)) && (await redis.hexists(`inventory:{stock}:product:${productId}`, 'registered')));
    },
    async close() {
      await stopServices().catch(() => undefined);
      await producer.close().catch(() => undefined);
      redis.disconnect();
      await broker.close().catch(() => undefined);
      await redisServer.stop();
    },
  };
}

/** Polls the order (as its customer) until `until(status)`; returns the order. */
export async function waitForOrder(url: string, orderId: string, as: { sub: string; roles?: string[] }, until: (status: string) => boolean, timeoutMs = 15_000) {
  return waitFor(
    `order ${orderId}`,
    async () => {
      const d = await gqlOk<{ order: { status: string } | null }>(url, ORDER_QUERY, { id: orderId }, as);
      return d.order && until(d.order.status) ? (d.order as any) : null;
    },
    timeoutMs,
  );
}

export const ORDER_FIELDS = `id customerId status total { amount currency } createdAt updatedAt
  lines { product { id } quantity unitPrice { amount currency } }
  history { orderId sequence status previous reason at }`;
export const ORDER_QUERY = `query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
export const PLACE_ORDER = `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { ${ORDER_FIELDS} } } }`;
export const PRODUCT_QUERY = `query($id: ID!) { product(id: $id) { id name price { amount currency } stock { available reserved sold } } }`;
