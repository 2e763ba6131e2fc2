import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../src/rate-limit.js';
import { startRedis, type TestRedis } from './fixtures/redis.js';

describe('rate limiter (Redis fixed window, hits batched per replica)', () => {
  let server: TestRedis;
  const clients: Redis[] = [];
  const connect = () => {
    const r = new Redis(server.url, { maxRetriesPerRequest: 1 });
    clients.push(r);
    return r;
  };
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.close();
  });

  it('allows exactly the limit on one replica, even for hits that arrive together', async () => {
    const limiter = createRateLimiter(connect(), { limit: 5, windowMs: 60_000, keyPrefix: 'test:rl1:' });
    const decisions = await Promise.all(Array.from({ length: 8 }, () => limiter.hit('dave')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    expect(Math.max(...decisions.map((d) => d.count))).toBe(8);
    expect((await limiter.hit('erin')).allowed).toBe(true);
    await limiter.flush();
    expect(await connect().get('test:rl1:dave')).toBe('8');
  });

  it("counts another replica's hits once they are flushed, and ends the window in Redis", async () => {
    const a = createRateLimiter(connect(), { limit: 5, windowMs: 2_000, keyPrefix: 'test:rl2:' });
    const b = createRateLimiter(connect(), { limit: 5, windowMs: 2_000, keyPrefix: 'test:rl2:' });
    for (let i = 0; i < 3; i++) expect((await a.hit('frank')).allowed).toBe(true);
    await a.flush();
    const fromB = [await b.hit('frank'), await b.hit('frank'), await b.hit('frank')];
    expect(fromB.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(fromB[0]!.resetMs).toBeGreaterThan(0);
    expect(fromB[0]!.resetMs).toBeLessThanOrEqual(2_000);
    await b.flush();
    const redis = connect();
    expect(await redis.get('test:rl2:frank')).toBe('6');
    expect(await redis.pttl('test:rl2:frank')).toBeGreaterThan(0);
  });
});
