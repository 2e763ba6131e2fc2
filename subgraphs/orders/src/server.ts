import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { gql } from 'graphql-tag';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Logger } from 'pino';
import { TOPICS } from '@shop/events';
import { createEventProducer, createKafka, ensureTopics, startConsumer, type ConsumerRunner } from '@shop/events/kafka';
import {
  connectRedis,
  createLogger,
  createServiceMetrics,
  instrumentHandler,
  retryUntilReady,
  startSubgraphServer,
  type RunningServer,
} from '@shop/service-kit';
import type { OrdersConfig } from './config.js';
import { createOrderLoaders } from './loaders.js';
import { createOrderSaga } from './order-saga.js';
import { createPaymentWorker } from './payment-worker.js';
import { createSimulatedPaymentProvider, type PaymentProvider } from './payment-provider.js';
import { createOrdersProjector } from './projector.js';
import { createOrderStore } from './read-model.js';
import { createOrdersResolvers, type OrdersContext } from './resolvers.js';
import { startSagaDeadlines } from './saga-deadline.js';

/** Consumer groups of the orders service (one per role so none waits behind another). */
export const ORDERS_GROUPS = {
  /** Read model + catalog projection; never blocks. */
  projector: 'orders-projector',
  /** The order state machine. */
  saga: 'orders-saga',
  /** The payment worker. */
  payments: 'orders-payments',
} as const;

export const ordersTypeDefs = gql(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

export interface StartOrdersOptions {
  readonly logger?: Logger;
  readonly paymentProvider?: PaymentProvider;
  /** Consumer group session timeout (tests use less); default the runner's. */
  readonly sessionTimeoutMs?: number;
}

export interface OrdersService extends RunningServer {
  readonly logger: Logger;
}

export async function startOrdersService(config: OrdersConfig, opts: StartOrdersOptions = {}): Promise<OrdersService> {
  const logger = opts.logger ?? createLogger('orders');
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch((err: unknown) => logger.warn({ err }, 'error while closing'));
  };
  try {
    const redis = await connectRedis(config.redisUrl, logger);
    closers.push(() => redis.quit());
    const publisher = await connectRedis(config.redisUrl, logger);
    const subscriber = await connectRedis(config.redisUrl, logger, { enableAutoPipelining: false });
    const pubsub = new RedisPubSub({ publisher, subscriber });
    closers.push(() => pubsub.close());

    const kafka = createKafka({ brokers: [...config.kafkaBrokers], clientId: 'orders', logger });
    await retryUntilReady('kafka', () => ensureTopics(kafka), { logger });
    const producer = await retryUntilReady('kafka producer', () => createEventProducer({ kafka, logger }), { logger });
    closers.push(() => producer.close());
    const admin = kafka.admin();
    await admin.connect();
    closers.push(() => admin.disconnect());

    const metrics = createServiceMetrics('orders');
    const store = createOrderStore(redis);
    const projector = createOrdersProjector({ store, logger });
    const saga = createOrderSaga({ store, producer, pubsub, logger, metrics });
    const payments = createPaymentWorker({
      redis,
      producer,
      provider: opts.paymentProvider ?? createSimulatedPaymentProvider(),
      logger,
      timeoutMs: config.paymentTimeoutMs,
    });

    const consumerOpts = { kafka, redis, logger, producer, partitionsConsumedConcurrently: config.consumerConcurrency, ...(opts.sessionTimeoutMs ? { sessionTimeoutMs: opts.sessionTimeoutMs } : {}) };
    const consumers: ConsumerRunner[] = await Promise.all([
      startConsumer({
        ...consumerOpts,
        groupId: ORDERS_GROUPS.projector,
        topics: [TOPICS.orders, TOPICS.inventory],
        handle: instrumentHandler(metrics, ORDERS_GROUPS.projector, (e) => projector.project(e)),
      }),
      startConsumer({
        ...consumerOpts,
        groupId: ORDERS_GROUPS.saga,
        topics: [TOPICS.orders, TOPICS.inventory, TOPICS.payments],
        handle: instrumentHandler(metrics, ORDERS_GROUPS.saga, (e) => saga.handle(e)),
      }),
      startConsumer({
        ...consumerOpts,
        groupId: ORDERS_GROUPS.payments,
        topics: [TOPICS.payments],
        // A provider that does not answer holds one partition for at most PAYMENT_TIMEOUT_MS, not all of them.
        partitionsConsumedConcurrently: Math.max(config.consumerConcurrency, 6),
        handle: instrumentHandler(metrics, ORDERS_GROUPS.payments, (e) => payments.handle(e)),
      }),
    ]);
    closers.push(() => Promise.all(consumers.map((c) => c.close())));

    const deadlines = startSagaDeadlines({ store, producer, logger, pollMs: config.sagaDeadlinePollMs });
    closers.push(() => deadlines.close());

    const schema = buildSubgraphSchema({
      typeDefs: ordersTypeDefs,
      resolvers: createOrdersResolvers({
        redis,
        store,
        producer,
        pubsub,
        logger,
        sagaDeadlineMs: config.sagaDeadlineMs,
        cancelWaitMs: config.cancelWaitMs,
      }) as never,
    });
    const server = await startSubgraphServer<OrdersContext>({
      name: 'orders',
      schema,
      host: config.host,
      port: config.port,
      logger,
      identitySecret: config.identitySecret,
      production: config.production,
      registry: metrics.registry,
      context: (base, transport) => ({ ...base, loaders: createOrderLoaders(store, { cache: transport.kind === 'http' }) }),
      checks: {
        redis: async () => (await redis.ping()) === 'PONG',
        kafka: async () => {
          await admin.describeCluster();
          return true;
        },
      },
    });
    closers.push(() => server.close());
    return { url: server.url, port: server.port, logger, close };
  } catch (err) {
    await close();
    throw err;
  }
}
