import { createHash } from 'node:crypto';
import type { RedisClient as Redis } from './redis-client.js';

export type RedisScript<T> = (redis: Redis, keys: readonly string[], args: readonly (string | number)[]) => Promise<T>;

/**
 * A Lua script run by its SHA (EVALSHA), so Redis neither receives nor hashes the body on every call; the
 * body is sent (EVAL) only when Redis does not know it yet, after a restart for example.
 */
export function redisScript<T>(lua: string): RedisScript<T> {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (redis, keys, args) => {
    try {
      return (await redis.evalsha(sha, keys.length, ...keys, ...args)) as T;
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return (await redis.eval(lua, keys.length, ...keys, ...args)) as T;
    }
  };
}
