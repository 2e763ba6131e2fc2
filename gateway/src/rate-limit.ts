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
  /** Sends the hits not yet counted in Redis (shutdown). */
  flush(): Promise<void>;
}

// Fixed window: INCRBY, start the window's expiry on the first hit, answer count and time left, in one round trip.
const SCRIPT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { n, ttl }
`;

/** How often hits counted locally are added to the shared counters. */
const FLUSH_MS = 50;
/** Clients remembered at once; beyond that the oldest windows are forgotten (they start over from Redis). */
const MAX_CLIENTS = 100_000;

interface Window {
  /** The shared count as Redis last answered it, this replica's hits up to then included. */
  shared: number;
  /** Hits of this replica since, not yet sent. */
  pending: number;
  /** Hits sent, not yet answered. */
  inFlight: number;
  endsAt: number;
  /** The first hit's round trip, which later hits of the same window wait for. */
  ready: Promise<void> | undefined;
}

type Run = (key: string, windowMs: number, hits: number) => Promise<[number, number]>;

/**
 * A per-client fixed-window counter in Redis, shared by every gateway replica. Only the first hit
 * of a client's window waits for Redis; later hits are decided from the last shared count plus
 * this replica's own hits, and sent to Redis in one INCRBY per client every 50 ms. On one replica
 * that is exact; across replicas, what the others did in the last 50 ms may be missed. The key
 * prefix has no default on purpose (STYLE §6): two deployments sharing a Redis must not share
 * counters by accident.
 */
export function createRateLimiter(redis: Redis, opts: { limit: number; windowMs: number; keyPrefix: string }): RateLimiter {
  redis.defineCommand('gatewayRateHitBy', { numberOfKeys: 1, lua: SCRIPT });
  const run = (redis as unknown as { gatewayRateHitBy: Run }).gatewayRateHitBy.bind(redis);
  const windows = new Map<string, Window>();
  let timer: NodeJS.Timeout | undefined;

  const flush = async (): Promise<void> => {
    timer = undefined;
    const now = Date.now();
    const sends: Promise<void>[] = [];
    for (const [client, w] of windows) {
      if (w.endsAt <= now) {
        windows.delete(client);
        continue;
      }
      if (w.pending === 0 || w.ready) continue;
      const hits = w.pending;
      w.pending = 0;
      w.inFlight += hits;
      sends.push(
        run(`${opts.keyPrefix}${client}`, opts.windowMs, hits).then(
          ([count, ttl]) => {
            w.inFlight -= hits;
            w.shared = Math.max(count, w.shared + hits);
            w.endsAt = Date.now() + ttl;
          },
          () => {
            // Redis is away: keep deciding on what this replica knows.
            w.inFlight -= hits;
            w.shared += hits;
          },
        ),
      );
    }
    await Promise.all(sends);
  };
  const scheduleFlush = () => {
    timer ??= setTimeout(() => void flush(), FLUSH_MS);
    timer.unref();
  };

  return {
    async hit(client) {
      if (opts.limit <= 0) return { allowed: true, count: 0, resetMs: 0 };
      const now = Date.now();
      const w = windows.get(client);
      if (!w || w.endsAt <= now) {
        if (windows.size >= MAX_CLIENTS) windows.delete(windows.keys().next().value!);
        const fresh: Window = { shared: 0, pending: 0, inFlight: 0, endsAt: now + opts.windowMs, ready: undefined };
        windows.set(client, fresh);
        fresh.ready = run(`${opts.keyPrefix}${client}`, opts.windowMs, 1).then(
          ([count, ttl]) => {
            fresh.shared = count;
            fresh.endsAt = Date.now() + ttl;
            fresh.ready = undefined;
          },
          (err: unknown) => {
            windows.delete(client);
            throw err;
          },
        );
        await fresh.ready;
        return { allowed: fresh.shared <= opts.limit, count: fresh.shared, resetMs: Math.max(0, fresh.endsAt - Date.now()) };
      }
      const count = w.shared + w.inFlight + ++w.pending;
      scheduleFlush();
      if (w.ready) {
        // Hits arriving during the window's first round trip: each is placed after it, in arrival order.
        const place = w.pending;
        await w.ready;
        const placed = w.shared + place;
        return { allowed: placed <= opts.limit, count: placed, resetMs: Math.max(0, w.endsAt - Date.now()) };
      }
      return { allowed: count <= opts.limit, count, resetMs: Math.max(0, w.endsAt - now) };
    },
    async flush() {
      clearTimeout(timer);
      await flush();
    },
  };
}
