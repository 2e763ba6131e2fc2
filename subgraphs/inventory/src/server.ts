import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { gql } from 'graphql-tag';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Logger } from 'pino';
import { createEvent, deterministicEventId, TOPICS } from '@shop/events';
import { createEventProducer, createKafka, ensureTopics, startConsumer } from '@shop/events/kafka';
import {
  connectRedis,
  createLogger,
  createServiceMetrics,
  instrumentHandler,
  retryUntilReady,
  startSubgraphServer,
  type RunningServer,
} from '@shop/service-kit';
import type { InventoryConfig } from './config.js';
import { createInventoryLoaders } from './loaders.js';
import { createInventoryProjector } from './projector.js';
import { createStockStore, type NewProduct } from './read-model.js';
import { createInventoryResolvers, type InventoryContext } from './resolvers.js';
import { SEED_CATALOG } from './seed.js';
import { createStockHandler } from './stock-handler.js';

export const INVENTORY_GROUP = 'inventory';

export const inventoryTypeDefs = gql(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

export interface StartInventoryOptions {
  readonly logger?: Logger;
  /** Replaces the seed catalog (tests); default SEED_CATALOG when config.seedCatalog. */
  readonly catalog?: readonly NewProduct[];
  readonly sessionTimeoutMs?: number;
}

export interface InventoryService extends RunningServer {
  readonly logger: Logger;
}

export async function startInventoryService(config: InventoryConfig, opts: StartInventoryOptions = {}): Promise<InventoryService> {
  const logger = opts.logger ?? createLogger('inventory');
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

    const kafka = createKafka({ brokers: [...config.kafkaBrokers], clientId: 'inventory', logger });
    await retryUntilReady('kafka', () => ensureTopics(kafka), { logger });
    const producer = await retryUntilReady('kafka producer', () => createEventProducer({ kafka, logger }), { logger });
    closers.push(() => producer.close());
    const admin = kafka.admin();
    await admin.connect();
    closers.push(() => admin.disconnect());

    const metrics = createServiceMetrics('inventory');
    const store = createStockStore(redis);
    const projector = createInventoryProjector({ store });
    const handler = createStockHandler({ store, projector, producer, pubsub, logger });

    const consumer = await startConsumer({
      kafka,
      redis,
      logger,
      producer,
      partitionsConsumedConcurrently: config.consumerConcurrency,
      groupId: INVENTORY_GROUP,
      topics: [TOPICS.orders, TOPICS.inventory],
      handle: instrumentHandler(metrics, INVENTORY_GROUP, (e) => handler.handle(e)),
      ...(opts.sessionTimeoutMs ? { sessionTimeoutMs: opts.sessionTimeoutMs } : {}),
    });
    closers.push(() => consumer.close());

    // Seed: ProductRegistered for every catalog product not registered yet, applied here too so the
    // catalog is readable at once. Deterministic ids: replicas and restarts publish duplicates at most.
    const catalog = opts.catalog ?? (config.seedCatalog ? SEED_CATALOG : []);
    const missing = (await store.getMany(catalog.map((p) => p.productId))).flatMap((p, i) => (p ? [] : [catalog[i]!]));
    if (missing.length) {
      const events = missing.map((p) =>
        createEvent(
          'ProductRegistered',
          { productId: p.productId, name: p.name, description: p.description, price: { amount: p.price.amount, currency: 'USD' }, initialStock: p.initialStock },
          { key: p.productId, correlationId: 'seed-catalog', causationId: null, id: deterministicEventId('seed', 'ProductRegistered', p.productId) },
        ),
      );
      await producer.publish(events);
      for (const e of events) await projector.project(e);
      logger.info({ products: missing.length }, 'seed catalog published');
    }

    const schema = buildSubgraphSchema({
      typeDefs: inventoryTypeDefs,
      resolvers: createInventoryResolvers({ store, projector, producer, pubsub, announce: handler.announce, logger }) as never,
    });
    const server = await startSubgraphServer<InventoryContext>({
      name: 'inventory',
      schema,
      host: config.host,
      port: config.port,
      logger,
      identitySecret: config.identitySecret,
      production: config.production,
      registry: metrics.registry,
      context: (base, transport) => ({ ...base, loaders: createInventoryLoaders(store, { cache: transport.kind === 'http' }) }),
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
