import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisClient } from '@shop/events';
import { tolerateStaleSubscriberReplies } from './stale-subscriber-errors.js';

/**
 * Where a service's Redis is: one node (`redisUrl`, REDIS_URL), or a Redis Cluster reached through its seed
 * nodes (`redisClusterNodes`, REDIS_CLUSTER_NODES `host:port,…`), which wins when set.
 */
export interface RedisTarget {
  readonly redisUrl: string;
  readonly redisClusterNodes?: readonly string[] | undefined;
}

const retryStrategy = (logger: Logger, where: string) => (attempt: number) => {
  if (attempt === 1 || attempt % 10 === 0) logger.warn({ redis: where, attempt }, 'redis not reachable yet, retrying');
  return Math.min(attempt * 200, 2_000);
};

/**
 * Connects to Redis (one node or a cluster) and keeps retrying with a clear log line while it is not up yet,
 * so services can start in any order. Resolves once the first connection is ready.
 */
export async function connectRedis(target: string | RedisTarget, logger: Logger, options: RedisOptions = {}): Promise<RedisClient> {
  return connect(target, logger, options, false);
}

/**
 * A connection for pub/sub subscriptions (see `createChannelPubSub`): on a cluster it keeps one sharded
 * subscriber connection per master (ioredis `shardedSubscribers`) for `SSUBSCRIBE`, and resolves once those
 * are connected too.
 */
export async function connectSubscriber(target: string | RedisTarget, logger: Logger): Promise<RedisClient> {
  return connect(target, logger, { enableAutoPipelining: false }, true);
}

async function connect(target: string | RedisTarget, logger: Logger, options: RedisOptions, shardedSubscribers: boolean): Promise<RedisClient> {
  const { redisUrl, redisClusterNodes } = typeof target === 'string' ? { redisUrl: target, redisClusterNodes: undefined } : target;
  const clustered = redisClusterNodes !== undefined && redisClusterNodes.length > 0;
  const where = clustered ? redisClusterNodes.join(',') : redactUrl(redisUrl);
  const redis: RedisClient = clustered
    ? new Cluster(redisClusterNodes.map(hostPort), { ...clusterOptions(logger, where, options), shardedSubscribers })
    : new Redis(redisUrl, {
        maxRetriesPerRequest: 20,
        enableAutoPipelining: true,
        retryStrategy: retryStrategy(logger, where),
        ...options,
      });
  redis.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis connection error'));
  if (clustered && shardedSubscribers) tolerateStaleSubscriberReplies(logger);
  // Registered before the first connection, so it cannot be missed.
  const subscribersReady = clustered && shardedSubscribers ? new Promise<void>((resolve) => redis.once(SHARDED_SUBSCRIBERS_READY, () => resolve())) : undefined;
  if (redis.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve);
      redis.once('end', () => reject(new Error(`redis at ${where} closed before it was ready`)));
    });
  }
  await subscribersReady;
  return redis;
}

/**
 * What an ioredis `Cluster` with `shardedSubscribers` emits once its sharded subscriber connections match the
 * cluster's current topology (at the start, and after every change of it or of a subscriber connection), after
 * sending the `SSUBSCRIBE`s they need again. Emitted by ioredis 5.9 but not in its documented event list:
 * `service-kit/test/channel-pubsub-cluster.int.test.ts` fails when a new version stops emitting it.
 */
export const SHARDED_SUBSCRIBERS_READY = 'subscribersReady';

function clusterOptions(logger: Logger, where: string, options: RedisOptions): ClusterOptions {
  const { enableAutoPipelining = true, maxRetriesPerRequest = 20, ...redisOptions } = options;
  return {
    enableAutoPipelining,
    // Auto-pipelining groups a command by the slot of its first argument, which for a script is its body or
    // SHA, not a key: scripts go on their own, routed by their keys. SPUBLISH goes on its own too: when a
    // pipeline of writes comes back with MOVED answers that differ (several slots of a master that failed
    // over), ioredis hands each caller its error instead of following the redirection and refreshing its slot
    // map, so publishes retried together fail together again and again.
    autoPipeliningIgnoredCommands: ['eval', 'evalsha', 'spublish'],
    // A client that only ever got such errors would otherwise keep its stale slot map: ioredis refreshes it
    // on a followed redirection or a lost node, not on a timer unless asked.
    slotsRefreshInterval: 5_000,
    // While a master fails over, commands to its slots wait for the new topology instead of failing.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    clusterRetryStrategy: retryStrategy(logger, where),
    redisOptions: { maxRetriesPerRequest, ...redisOptions },
  };
}

function hostPort(node: string): { host: string; port: number } {
  const i = node.lastIndexOf(':');
  return { host: node.slice(0, i), port: Number(node.slice(i + 1)) };
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
