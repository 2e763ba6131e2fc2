// `npm run rebuild-read-models`: restores the orders, stock and notifications read models from the
// Kafka log. Wipes the services' Redis keys (orders:*, inventory:*, notifications:*), then replays
// every event topic from the beginning through the services' projectors (projection only: no saga
// decisions, nothing published). Stop the services first, or run it against an empty Redis.
//
//   REDIS_URL=redis://127.0.0.1:6390 KAFKA_BROKERS=127.0.0.1:9092 npm run rebuild-read-models
//   REDIS_CLUSTER_NODES=127.0.0.1:7000,127.0.0.1:7001 … (a Redis Cluster: every master is wiped)
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { Kafka } from 'kafkajs';
import { Cluster } from 'ioredis';
import type { RedisClient as Redis } from '@shop/events';
import type { Logger } from 'pino';
import { ALL_TOPICS, parseEvent, type AnyEvent } from '@shop/events';
import { createKafka } from '@shop/events/kafka';
import { connectRedis, createLogger, DEFAULT_PORTS, envHostPorts } from '@shop/service-kit';
import { createOrderStore, createOrdersProjector, ORDERS_KEY_PREFIX } from '@shop/subgraph-orders';
import { createInventoryProjector, createStockStore, INVENTORY_KEY_PREFIX } from '@shop/subgraph-inventory';
import { createNotificationsProjector, createNotificationStore, NOTIFICATIONS_KEY_PREFIX } from '@shop/subgraph-notifications';

export const READ_MODEL_PREFIXES = [ORDERS_KEY_PREFIX, INVENTORY_KEY_PREFIX, NOTIFICATIONS_KEY_PREFIX] as const;

export interface RebuildResult {
  readonly events: number;
  readonly skipped: number;
  readonly deletedKeys: number;
}

/**
 * Deletes every key under the read-model prefixes; returns how many. On a cluster SCAN sees one node's keys,
 * so every master is scanned, and keys are deleted one by one (a multi-key UNLINK must stay in one slot).
 */
export async function wipeReadModels(redis: Redis): Promise<number> {
  let deleted = 0;
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const node of nodes) {
    for (const prefix of READ_MODEL_PREFIXES) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        const counts = await Promise.all(keys.map((key) => node.unlink(key)));
        deleted += counts.reduce((a, b) => a + b, 0);
      } while (cursor !== '0');
    }
  }
  return deleted;
}

/** One projection step of all three services for one event. */
export function createRebuildProjection(redis: Redis, logger: Logger) {
  const orders = createOrdersProjector({ store: createOrderStore(redis), logger });
  const inventory = createInventoryProjector({ store: createStockStore(redis) });
  const notifications = createNotificationsProjector({ store: createNotificationStore(redis) });
  return async (event: AnyEvent) => {
    await orders.project(event);
    await inventory.project(event);
    await notifications.project(event);
  };
}

export async function rebuildReadModels(opts: { redis: Redis; kafka: Kafka; logger: Logger; wipe?: boolean }): Promise<RebuildResult> {
  const { redis, kafka, logger } = opts;
  const deletedKeys = opts.wipe === false ? 0 : await wipeReadModels(redis);
  const project = createRebuildProjection(redis, logger);

  // Where the log ends now: the replay stops there (events published meanwhile are for the live consumers).
  const admin = kafka.admin();
  await admin.connect();
  const pending = new Map<string, bigint>(); // `${topic}:${partition}` → high watermark
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of ALL_TOPICS.filter((t) => existing.has(t))) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(p.high) > BigInt(p.low)) pending.set(`${topic}:${p.partition}`, BigInt(p.high));
      }
    }
  } finally {
    await admin.disconnect();
  }
  let events = 0;
  let skipped = 0;
  if (pending.size === 0) return { events, skipped, deletedKeys };

  const groupId = `rebuild-read-models-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...ALL_TOPICS], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      // kafkajs reports a failure after the start (a projection that keeps failing, a lost broker) only as an
      // event: without this the replay would wait for ever on a consumer that stopped.
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            const key = `${topic}:${partition}`;
            const high = pending.get(key);
            if (high === undefined || BigInt(message.offset) >= high) return;
            let event: AnyEvent | null = null;
            try {
              event = parseEvent(message.value);
            } catch (err) {
              // A malformed record never changed a read model (the live consumers dead-lettered it).
              skipped++;
              logger.warn({ topic, partition, offset: message.offset, err: (err as Error).message }, 'skipping malformed record');
            }
            if (event) {
              await project(event);
              events++;
            }
            if (BigInt(message.offset) + 1n >= high) {
              pending.delete(key);
              if (pending.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    const cleanup = kafka.admin();
    await cleanup.connect();
    await cleanup.deleteGroups([groupId]).catch(() => undefined);
    await cleanup.disconnect();
  }
  return { events, skipped, deletedKeys };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const logger = createLogger('rebuild-read-models');
  const redisUrl = process.env.REDIS_URL || `redis://127.0.0.1:${DEFAULT_PORTS.redis}`;
  const redisClusterNodes = envHostPorts().parse(process.env.REDIS_CLUSTER_NODES);
  const brokers = (process.env.KAFKA_BROKERS || `127.0.0.1:${DEFAULT_PORTS.kafka}`).split(',').map((s) => s.trim());
  const redis = await connectRedis({ redisUrl, redisClusterNodes }, logger);
  const kafka = createKafka({ brokers, clientId: 'rebuild-read-models', logger: logger.child({}, { level: 'warn' }) });
  try {
    const started = Date.now();
    const result = await rebuildReadModels({ redis, kafka, logger });
    logger.info({ ...result, ms: Date.now() - started }, 'read models rebuilt');
  } catch (err) {
    logger.fatal({ err }, 'rebuild failed');
    process.exitCode = 1;
  } finally {
    await redis.quit();
  }
}
