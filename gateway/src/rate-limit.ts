import type { Redis } from 'ioredis';

export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly count: number;
  /** Milliseconds until the current window ends. */
  readonly resetMs: number;
}

export interface RateLimiter {
  /** Counts one request of `client` (a customer id or `ip:<address>`) in the current window. */
  hit(client: string): Promise<RateLimitDecision>;
}

// Fixed window: INCR, start the window's expiry on the first hit, answer count and time left, in one round trip.
const SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { n, ttl }
`;

/**
 * A per-client fixed-window counter in Redis, shared by every gateway replica. The key prefix has
 * no default on purpose (STYLE §6): two deployments sharing a Redis must not share counters by accident.
 */
export function createRateLimiter(redis: Redis, opts: { limit: number; windowMs: number; keyPrefix: string }): RateLimiter {
  redis.defineCommand('gatewayRateHit', { numberOfKeys: 1, lua: SCRIPT });
  const run = (redis as unknown as { gatewayRateHit(key: string, windowMs: number): Promise<[number, number]> }).gatewayRateHit.bind(redis);
  return {
    async hit(client) {
      if (opts.limit <= 0) return { allowed: true, count: 0, resetMs: 0 };
      const [count, resetMs] = await run(`${opts.keyPrefix}${client}`, opts.windowMs);
      return { allowed: count <= opts.limit, count, resetMs };
    },
  };
}
