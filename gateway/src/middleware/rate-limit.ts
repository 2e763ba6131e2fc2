import type { RedisClient as Redis } from '@shop/service-kit';

export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly count: number;
  /** Milliseconds until the current window ends. */
  readonly resetMs: number;
}

export interface RateLimiter {
  /**
   * Counts one request of `client` (a customer id or `ip:<address>`) in the current window: the
   * decision at once when this replica can make it alone (most hits), a promise when it waits for Redis.
   */
  hit(client: string): RateLimitDecision | Promise<RateLimitDecision>;
  /** Sends the hits not yet counted in Redis (shutdown). */
  flush(): Promise<void>;
}

// INCRBY the window's own key; it outlives its window a little so late flushes still land in it.
const SCRIPT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

/** How often hits counted locally are added to the shared counters. */
const FLUSH_MS = 50;
/** Clients remembered at once; beyond that the oldest windows are sent and forgotten. */
const MAX_CLIENTS = 100_000;

interface Window {
  /** Which window: `floor(time / windowMs)`, the same on every replica. */
  readonly index: number;
  /** The shared count as Redis last answered it, this replica's hits up to then included. */
  shared: number;
  /** Hits of this replica not yet sent. */
  pending: number;
  /** Hits sent, not yet answered. */
  inFlight: number;
  /** The first hit's round trip, which later hits of the same window wait for. */
  ready: Promise<void> | undefined;
}

type Run = (key: string, ttlMs: number, hits: number) => Promise<number>;

/**
 * A per-client fixed-window counter in Redis, shared by every gateway replica. Windows are aligned
 * to the clock (`floor(now / window)`), each with its own key, so hits are always added to the
 * window they were counted in. Only the first hit of a client's window waits for Redis; later hits
 * are decided from the last shared count plus this replica's own hits, and sent in one INCRBY per
 * client every 50 ms. On one replica that is exact; across replicas, what the others did in the
 * last 50 ms may be missed. While Redis is not connected, nothing waits for it: each replica
 * counts on its own until it is back. The key prefix has no default on purpose, as risky settings have none: two
 * deployments sharing a Redis must not share counters by accident.
 */
export function createRateLimiter(redis: Redis, opts: { limit: number; windowMs: number; keyPrefix: string }): RateLimiter {
  redis.defineCommand('gatewayRateAdd', { numberOfKeys: 1, lua: SCRIPT });
  const run = (redis as unknown as { gatewayRateAdd: Run }).gatewayRateAdd.bind(redis);
  const keyOf = (client: string, index: number) => `${opts.keyPrefix}${client}:${index}`;
  const ttlMs = opts.windowMs + 10_000;
  const windows = new Map<string, Window>();
  let timer: NodeJS.Timeout | undefined;

  const send = (client: string, w: Window): Promise<void> => {
    const hits = w.pending;
    w.pending = 0;
    w.inFlight += hits;
    return run(keyOf(client, w.index), ttlMs, hits).then(
      (count) => {
        w.inFlight -= hits;
        w.shared = Math.max(count, w.shared + hits);
      },
      () => {
        // Redis is away: keep deciding on what this replica knows.
        w.inFlight -= hits;
        w.shared += hits;
      },
    );
  };
  const flush = async (): Promise<void> => {
    timer = undefined;
    const current = Math.floor(Date.now() / opts.windowMs);
    const sends: Promise<void>[] = [];
    for (const [client, w] of windows) {
      if (w.pending > 0 && !w.ready) sends.push(send(client, w));
      if (w.index < current && w.pending === 0 && !w.ready) windows.delete(client);
    }
    await Promise.all(sends);
  };
  const scheduleFlush = () => {
    timer ??= setTimeout(() => void flush(), FLUSH_MS);
    timer.unref();
  };
  const decision = (count: number, index: number, now: number): RateLimitDecision => ({
    allowed: count <= opts.limit,
    count,
    resetMs: Math.max(0, (index + 1) * opts.windowMs - now),
  });

  return {
    hit(client) {
      if (opts.limit <= 0) return { allowed: true, count: 0, resetMs: 0 };
      const now = Date.now();
      const index = Math.floor(now / opts.windowMs);
      const w = windows.get(client);
      if (w && w.index === index) {
        const count = w.shared + w.inFlight + ++w.pending;
        scheduleFlush();
        if (!w.ready) return decision(count, index, now);
        // Hits arriving during the window's first round trip: each is placed after it, in arrival order.
        const place = w.pending;
        return w.ready.then(() => decision(w.shared + place, index, Date.now()));
      }
      // A new window for this client. Hits still held for its previous window go to that window's key.
      if (w && w.pending > 0) void send(client, w);
      if (!w && windows.size >= MAX_CLIENTS) {
        const [oldest, old] = windows.entries().next().value!;
        if (old.pending > 0) void send(oldest, old);
        windows.delete(oldest);
      }
      const fresh: Window = { index, shared: 0, pending: 0, inFlight: 0, ready: undefined };
      windows.delete(client);
      windows.set(client, fresh);
      if (redis.status !== 'ready') {
        // Not connected: count here, send later, and never make requests wait for a reconnect.
        fresh.pending = 1;
        scheduleFlush();
        return decision(1, index, now);
      }
      fresh.ready = run(keyOf(client, index), ttlMs, 1).then(
        (count) => {
          fresh.shared = Math.max(count, fresh.shared);
          fresh.ready = undefined;
          if (fresh.pending > 0) scheduleFlush();
        },
        () => {
          // Failed: this hit and those that waited for it are counted here, to be sent later.
          fresh.shared += 1;
          fresh.ready = undefined;
          scheduleFlush();
        },
      );
      return fresh.ready.then(() => decision(fresh.shared, index, Date.now()));
    },
    async flush() {
      clearTimeout(timer);
      await flush();
    },
  };
}
