import type { GraphQLSchema } from 'graphql';
import type { RedisClient as Redis } from '@shop/events';
import type { Logger } from 'pino';
import { createLogger } from './logger.js';
import { createServiceMetrics, type ServiceMetrics } from './metrics.js';
import { watchPubSubReconnects, type PubSubReconnects } from './pubsub-reconnects.js';
import { connectRedis, connectSubscriber } from './redis.js';
import { createChannelPubSub, type ChannelPubSub } from './channel-pubsub.js';
import { retryUntilReady } from './retry.js';
import type { ServiceConfig } from './service-config.js';
import { startSubgraphServer, type RunningServer, type SubgraphServerOptions } from './subgraph-server.js';
import { createEventProducer, createKafka, ensureTopics, type EventProducer, type StartConsumerOptions } from '@shop/events/kafka';

type Kafka = ReturnType<typeof createKafka>;

/** What every subgraph service runs on, ready when `setup` is called. */
export interface ServiceRuntime {
  readonly logger: Logger;
  readonly redis: Redis;
  /** Pub/sub on the aggregates' channels: classic on one node, sharded on a cluster. */
  readonly pubsub: ChannelPubSub;
  /** Tells streams with a stored history when pub/sub is back after a drop (what was published meanwhile is lost). */
  readonly pubsubReconnects: PubSubReconnects;
  readonly kafka: Kafka;
  readonly producer: EventProducer;
  readonly metrics: ServiceMetrics;
  /** The `startConsumer` options all consumers of the service share (spread, then add group, topics, handle). */
  readonly consumerOptions: Pick<StartConsumerOptions, 'kafka' | 'redis' | 'logger' | 'producer' | 'partitionsConsumedConcurrently' | 'sessionTimeoutMs' | 'idempotentHandler'>;
  /** Registers something to close at shutdown; closed in reverse order of registration. */
  onClose(closer: () => Promise<unknown>): void;
}

export interface StartSubgraphServiceOptions<TContext extends object> {
  /** Service name: logger, Kafka client id, metrics label, server name. */
  readonly name: string;
  readonly config: ServiceConfig;
  readonly logger?: Logger;
  /** Consumer group session timeout (tests use less); default the runner's. */
  readonly sessionTimeoutMs?: number;
  /** The service's own part (stores, consumers, workers): returns what the server serves. */
  setup(runtime: ServiceRuntime): Promise<{ readonly schema: GraphQLSchema; readonly context: SubgraphServerOptions<TContext>['context'] }>;
}

export interface SubgraphService extends RunningServer {
  readonly logger: Logger;
}

/**
 * Starts a subgraph service: Redis (client + pub/sub, retried until up), Kafka (topics ensured,
 * producer, admin for readiness), metrics, then the service's `setup`, then the HTTP/WS server
 * with `/readyz` checking Redis and Kafka. `close` (or a failing start) closes everything in
 * reverse order: server, what `setup` registered, admin, producer, pub/sub, Redis.
 */
export async function startSubgraphService<TContext extends object>(opts: StartSubgraphServiceOptions<TContext>): Promise<SubgraphService> {
  const { name, config } = opts;
  const logger = opts.logger ?? createLogger(name);
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch((err: unknown) => logger.warn({ err }, 'error while closing'));
  };
  try {
    const redis = await connectRedis(config, logger);
    closers.push(() => redis.quit());
    const subscriber = await connectSubscriber(config, logger);
    const pubsub = createChannelPubSub({ publisher: redis, sharedPublisher: true, subscriber });
    closers.push(() => pubsub.close());
    const pubsubReconnects = watchPubSubReconnects(pubsub, logger);
    closers.push(async () => pubsubReconnects.close());

    const kafka = createKafka({ brokers: [...config.kafkaBrokers], clientId: name, logger });
    await retryUntilReady('kafka', () => ensureTopics(kafka, { partitions: config.topicPartitions }), { logger });
    const producer = await retryUntilReady('kafka producer', () => createEventProducer({ kafka, logger }), { logger });
    closers.push(() => producer.close());
    const admin = kafka.admin();
    await admin.connect();
    closers.push(() => admin.disconnect());

    const metrics = createServiceMetrics(name);
    const { schema, context } = await opts.setup({
      logger,
      redis,
      pubsub,
      pubsubReconnects,
      kafka,
      producer,
      metrics,
      consumerOptions: {
        kafka,
        redis,
        logger,
        producer,
        partitionsConsumedConcurrently: config.consumerConcurrency,
        sessionTimeoutMs: opts.sessionTimeoutMs ?? config.consumerSessionTimeoutMs,
        // Every handler of the services is idempotent on its own state (deterministic event ids, sequence and
        // status checks, answers stored by order): markers are looked up only where redeliveries come from.
        idempotentHandler: true,
      },
      onClose: (closer) => void closers.push(closer),
    });

    const server = await startSubgraphServer<TContext>({
      name,
      schema,
      host: config.host,
      port: config.port,
      logger,
      identitySecret: config.identitySecret,
      production: config.production,
      registry: metrics.registry,
      context,
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
