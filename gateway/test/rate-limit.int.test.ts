import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../src/middleware/rate-limit.js';
import { freePort, startRedis, type TestRedis } from './fixtures/redis.js';

/** Waits until at least `minLeftMs` of the current clock-aligned window remain, so a test's hits share one window. */
async function startOfWindow(windowMs: number, minLeftMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < minLeftMs) await new Promise((r) => setTimeout(r, left + 5));
}

describe('rate limiter (Redis, clock-aligned fixed windows, hits batched per replica)', () => {
  let server: TestRedis;
  const clients: Redis[] = [];
  const connect = (url = server.url, options: RedisOptions = {}) => {
    const r = new Redis(url, { maxRetriesPerRequest: 1, ...options });
    r.on('error', () => undefined);
    clients.push(r);
    return r;
  };
  /** The shared count of a client: the sum over its window keys. */
  const sharedCount = async (redis: Redis, prefix: string) => {
    const keys = await redis.keys(`${prefix}*`);
    const values = keys.length ? await redis.mget(keys) : [];
    return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
  };
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.close();
  });

  it('allows exactly the limit on one replica, even for hits that arrive together', async () => {
    await startOfWindow(60_000, 5_000);
    const limiter = createRateLimiter(connect(), { limit: 5, windowMs: 60_000, keyPrefix: 'test:rl1:' });
    const decisions = await Promise.all(Array.from({ length: 8 }, () => limiter.hit('dave')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    expect(decisions.map((d) => d.count).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await limiter.hit('erin')).allowed).toBe(true);
    await limiter.flush();
    expect(await sharedCount(connect(), 'test:rl1:dave:')).toBe(8);
  });

  it("counts another replica's hits once they are flushed, and starts afresh in the next window", async () => {
    // Long enough that the hits and flushes below fit in one window on a loaded machine (1.5 s did not always).
    const windowMs = 4_000;
    await startOfWindow(windowMs, 3_000);
    const a = createRateLimiter(connect(), { limit: 5, windowMs, keyPrefix: 'test:rl2:' });
    const b = createRateLimiter(connect(), { limit: 5, windowMs, keyPrefix: 'test:rl2:' });
    for (let i = 0; i < 3; i++) expect((await a.hit('frank')).allowed).toBe(true);
    await a.flush();
    const fromB = [await b.hit('frank'), await b.hit('frank'), await b.hit('frank')];
    expect(fromB.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(fromB[0]!.resetMs).toBeGreaterThan(0);
    expect(fromB[0]!.resetMs).toBeLessThanOrEqual(windowMs);
    await b.flush();
    expect(await sharedCount(connect(), 'test:rl2:frank:')).toBe(6);
    // Next window: nothing carried over from this one.
    await new Promise((r) => setTimeout(r, fromB[2]!.resetMs + 10));
    const next = await b.hit('frank');
    expect(next).toMatchObject({ allowed: true, count: 1 });
  });

  it('never makes requests wait for a Redis that is not there, and still counts on its own', async () => {
    const port = await freePort();
    const limiter = createRateLimiter(connect(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => null }), {
      limit: 2,
      windowMs: 60_000,
      keyPrefix: 'test:rl3:',
    });
    const started = Date.now();
    const decisions = [await limiter.hit('gina'), await limiter.hit('gina'), await limiter.hit('gina')];
    expect(Date.now() - started).toBeLessThan(500);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
  });
});
