import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { gql } from 'graphql-tag';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Logger } from 'pino';
import { TOPICS } from '@shop/events';
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
import type { NotificationsConfig } from './config.js';
import { createNotificationLoaders } from './loaders.js';
import { createNotificationHandler } from './notification-handler.js';
import { createNotificationsProjector } from './projector.js';
import { createNotificationStore } from './read-model.js';
import { createNotificationsResolvers, type NotificationsContext } from './resolvers.js';

export const NOTIFICATIONS_GROUP = 'notifications';

export const notificationsTypeDefs = gql(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

export interface StartNotificationsOptions {
  readonly logger?: Logger;
  readonly sessionTimeoutMs?: number;
}

export interface NotificationsService extends RunningServer {
  readonly logger: Logger;
}

export async function startNotificationsService(config: NotificationsConfig, opts: StartNotificationsOptions = {}): Promise<NotificationsService> {
  const logger = opts.logger ?? createLogger('notifications');
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

    const kafka = createKafka({ brokers: [...config.kafkaBrokers], clientId: 'notifications', logger });
    await retryUntilReady('kafka', () => ensureTopics(kafka), { logger });
    const producer = await retryUntilReady('kafka producer', () => createEventProducer({ kafka, logger }), { logger });
    closers.push(() => producer.close());
    const admin = kafka.admin();
    await admin.connect();
    closers.push(() => admin.disconnect());

    const metrics = createServiceMetrics('notifications');
    const store = createNotificationStore(redis);
    const projector = createNotificationsProjector({ store });
    const handler = createNotificationHandler({ projector, pubsub });
    const consumer = await startConsumer({
      kafka,
      redis,
      logger,
      producer,
      partitionsConsumedConcurrently: config.consumerConcurrency,
      groupId: NOTIFICATIONS_GROUP,
      topics: [TOPICS.orders],
      handle: instrumentHandler(metrics, NOTIFICATIONS_GROUP, (e) => handler.handle(e)),
      ...(opts.sessionTimeoutMs ? { sessionTimeoutMs: opts.sessionTimeoutMs } : {}),
    });
    closers.push(() => consumer.close());

    const schema = buildSubgraphSchema({ typeDefs: notificationsTypeDefs, resolvers: createNotificationsResolvers({ store, pubsub }) as never });
    const server = await startSubgraphServer<NotificationsContext>({
      name: 'notifications',
      schema,
      host: config.host,
      port: config.port,
      logger,
      identitySecret: config.identitySecret,
      production: config.production,
      registry: metrics.registry,
      context: (base, transport) => ({ ...base, loaders: createNotificationLoaders(store, { cache: transport.kind === 'http' }) }),
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
