import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Connects to Redis and keeps retrying with a clear log line while it is not up yet, so services
 * can start in any order. Resolves once the first connection is ready.
 */
export async function connectRedis(url: string, logger: Logger, options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 20,
    enableAutoPipelining: true,
    retryStrategy: (attempt) => {
      if (attempt === 1 || attempt % 10 === 0) logger.warn({ url: redactUrl(url), attempt }, 'redis not reachable yet, retrying');
      return Math.min(attempt * 200, 2_000);
    },
    ...options,
  });
  redis.on('error', (err) => logger.debug({ err: err.message }, 'redis connection error'));
  if (redis.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve);
      redis.once('end', () => reject(new Error(`redis at ${redactUrl(url)} closed before it was ready`)));
    });
  }
  return redis;
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
