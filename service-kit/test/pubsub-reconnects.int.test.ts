// Pub/sub drops what is published while the subscriber is away: after redis-server is killed and started
// again, streams must hear that their channels are subscribed again, to read what they missed.
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '../../test/support/redis-server.js';
import { createChannelPubSub, type ChannelPubSub } from '../src/channel-pubsub.js';
import { watchPubSubReconnects } from '../src/pubsub-reconnects.js';
import { connectRedis, connectSubscriber } from '../src/redis.js';

const logger = pino({ level: 'silent' });
let server: RedisServer;
let pubsub: ChannelPubSub;

beforeAll(async () => {
  server = await startRedisServer();
  pubsub = createChannelPubSub({ publisher: await connectRedis(server.url, logger), subscriber: await connectSubscriber(server.url, logger) });
});

afterAll(async () => {
  await pubsub?.close().catch(() => undefined);
  await server?.stop();
});

it('tells listeners once the channels are subscribed again after redis-server was killed and restarted', async () => {
  expect(pubsub.sharded, 'one node: classic pub/sub').toBe(false);
  const reconnects = watchPubSubReconnects(pubsub, logger);
  const received: string[] = [];
  await pubsub.subscribe<string>('orders:status:o1', (m) => void received.push(m));
  let resumed = 0;
  let first!: () => void;
  const firstResume = new Promise<void>((r) => (first = r));
  const stop = reconnects.onResubscribed(() => {
    resumed++;
    first();
  });
  await pubsub.publish('orders:status:o1', 'before');
  await expect.poll(() => received).toEqual(['before']);
  expect(resumed, 'the first connection is not a reconnection').toBe(0);

  const port = Number(new URL(server.url).port);
  await server.stop();
  server = await startRedisServer({ port });
  await firstResume;
  // Right after the signal, a publish reaches the subscriber: the re-subscription is in effect.
  await pubsub.publish('orders:status:o1', 'after');
  await expect.poll(() => received).toEqual(['before', 'after']);
  expect(resumed).toBe(1);

  stop();
  const second = new Promise<void>((r) => reconnects.onResubscribed(r));
  await server.stop();
  server = await startRedisServer({ port });
  await second;
  await pubsub.publish('orders:status:o1', 'again');
  await expect.poll(() => received).toEqual(['before', 'after', 'again']);
  expect(resumed, 'an unregistered listener is not called').toBe(1);
  reconnects.close();
}, 30_000);
