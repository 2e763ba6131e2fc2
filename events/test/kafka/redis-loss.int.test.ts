/**
 * Redis losing its last writes (a crash with `appendfsync everysec`, a failover) while Kafka's committed
 * offsets are already past them: the group's position stored with its state goes back with the state, and
 * the records are applied again. Made deterministic with RDB snapshots: `SAVE` marks what the crash keeps.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startDurableRedisServer, type DurableRedisServer } from '../../../test/support/redis-server.js';
import { createEvent } from '../../src/contracts/create.js';
import type { AnyEvent } from '../../src/contracts/envelope.js';
import type { EventType } from '../../src/contracts/registry.js';
import { EventError } from '../../src/errors.js';
import { startConsumer, type ConsumerRunner, type EventHandler } from '../../src/kafka/consumer.js';
import { createEventProducer, type EventProducer } from '../../src/kafka/producer.js';
import { redisScript } from '../../src/redis-script.js';
import { startKafka, testLogger, waitFor, type TestKafka } from './helpers.js';

const KEYS = 8;
const STEPS = 10;
const TOPIC = 'shop.orders';

/** Applies a key's steps strictly in order: an old step is a no-op, a step past a gap is an error. */
const applyStep = redisScript<number>(`
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local seq = tonumber(ARGV[1])
if seq <= last then return 0 end
if seq ~= last + 1 then return redis.error_reply('gap: at ' .. last .. ', got ' .. seq) end
redis.call('SET', KEYS[1], seq)
redis.call('RPUSH', KEYS[2], seq)
return 1`);

const step = (key: string, sequence: number) =>
  createEvent(
    'OrderStatusChanged',
    { orderId: key, customerId: 'c', sequence, status: 'PENDING', previous: null, reason: null, at: '2026-01-01T00:00:00.000Z' },
    { key, correlationId: `corr-${key}` },
  );

/** Records of a type the group skips unparsed (`eventTypes`), on the same partitions. */
const noise = (n: number) =>
  keys.flatMap((key) =>
    Array.from({ length: n }, () => createEvent('OrderCancellationRequested', { orderId: key, requestedBy: 'c', reason: 'noise' }, { key, correlationId: `corr-${key}` })),
  );

const keys = Array.from({ length: KEYS }, (_, i) => `key-${i}`);
const steps = (from: number, to: number) => keys.flatMap((k) => Array.from({ length: to - from + 1 }, (_, i) => step(k, from + i)));

interface Rig {
  redis: DurableRedisServer;
  client: Redis;
  kafka: TestKafka;
  producer: EventProducer;
  gaps: string[];
  consumer(): Promise<ConsumerRunner>;
  logs(): Promise<number[][]>;
  committedTotal(): Promise<number>;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
});

async function rig(opts: { eventTypes?: readonly EventType[]; accepts?: (event: AnyEvent) => boolean; idempotentHandler?: boolean } = {}): Promise<Rig> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-loss-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  // RDB only: what a crash keeps is exactly the last SAVE.
  const redis = await startDurableRedisServer(dir, ['--appendonly', 'no', '--save', '']);
  cleanups.push(() => redis.stop());
  const client = new Redis(redis.url, { maxRetriesPerRequest: 20, enableAutoPipelining: true, retryStrategy: () => 50 });
  client.on('error', () => undefined);
  cleanups.push(async () => client.disconnect());
  const kafka = await startKafka();
  cleanups.push(() => kafka.close());
  const producer = await createEventProducer({ kafka: kafka.kafka, logger: testLogger });
  cleanups.push(() => producer.close());
  const groupId = `g-loss-${randomUUID()}`;
  const gaps: string[] = [];
  const handle: EventHandler = async (event) => {
    if (opts.accepts && !opts.accepts(event)) throw new Error(`handler given an event accepts() refused: ${event.id}`);
    if (event.type !== 'OrderStatusChanged') return 'ignored';
    const { orderId, sequence } = event.payload;
    try {
      await applyStep(client, [`last:${orderId}`, `log:${orderId}`], [sequence]);
    } catch (err) {
      if (!String(err).includes('gap')) throw err;
      gaps.push(`${orderId}: ${String(err)}`);
      throw new EventError(String(err), { retriable: false });
    }
    return 'ok';
  };
  return {
    redis,
    client,
    kafka,
    producer,
    gaps,
    async consumer() {
      const runner = await startConsumer({ kafka: kafka.kafka, redis: client, groupId, topics: [TOPIC], logger: testLogger, producer, handle, sessionTimeoutMs: 6_000, initialRetryDelayMs: 20, maxRetryDelayMs: 200, ...opts });
      cleanups.push(() => runner.close());
      return runner;
    },
    async logs() {
      return Promise.all(keys.map(async (k) => (await client.lrange(`log:${k}`, 0, -1)).map(Number)));
    },
    async committedTotal() {
      const admin = kafka.kafka.admin();
      await admin.connect();
      try {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [TOPIC] });
        return offsets!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      } finally {
        await admin.disconnect();
      }
    },
  };
}

const inOrder = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

async function allApplied(r: Rig, n: number) {
  await waitFor(`every key at step ${n}`, async () => (await r.logs()).every((log) => log.length >= n), 20_000);
}

/** Applies steps 1..STEPS, snapshots, applies the rest until Kafka has committed all of it, then crashes Redis. */
async function loseTheSecondHalf(r: Rig, noisePerKey = 0): Promise<void> {
  await r.producer.publish(steps(1, STEPS));
  await allApplied(r, STEPS);
  await r.producer.publish(noise(noisePerKey));
  await r.client.save();
  await r.producer.publish(steps(STEPS + 1, 2 * STEPS));
  await allApplied(r, 2 * STEPS);
  await r.producer.publish(noise(noisePerKey));
  // Kafka has committed every record (the commit interval is 1 s): Kafka alone would never redeliver them.
  await waitFor('the group to commit everything', async () => (await r.committedTotal()) === KEYS * (2 * STEPS + 2 * noisePerKey), 10_000);
}

describe('Redis loses its last writes, Kafka has committed past them', () => {
  it.each([false, true])('a running consumer applies the lost records again, in order, once Redis is back (idempotentHandler: %s)', async (idempotentHandler) => {
    const r = await rig({ idempotentHandler });
    await r.consumer();
    await loseTheSecondHalf(r);

    await r.redis.crash();
    await r.redis.restart();
    expect((await r.logs()).every((log) => log.length === STEPS)).toBe(true); // the crash took the second half

    await allApplied(r, 2 * STEPS);
    for (const log of await r.logs()) expect(log).toEqual(inOrder(2 * STEPS));
    expect(r.gaps).toEqual([]);
  });

  it('records the group skips unparsed in between do not hide the loss', async () => {
    const r = await rig({ eventTypes: ['OrderStatusChanged'] });
    await r.consumer();
    await loseTheSecondHalf(r, 3);

    await r.redis.crash();
    await r.redis.restart();
    await allApplied(r, 2 * STEPS);
    for (const log of await r.logs()) expect(log).toEqual(inOrder(2 * STEPS));
    expect(r.gaps).toEqual([]);
  });

  it('records the group skips unparsed cost no Redis command once the partition is known', async () => {
    const r = await rig({ eventTypes: ['OrderStatusChanged'] });
    await r.consumer();
    await r.producer.publish(steps(1, 1)); // every partition used gets a stored offset
    await allApplied(r, 1);
    await waitFor('the first commit', async () => (await r.committedTotal()) === KEYS, 10_000);
    const commands = async () => Number(/^total_commands_processed:(\d+)/m.exec(await r.client.info('stats'))![1]);
    const before = await commands();
    await r.producer.publish(noise(5));
    await waitFor('the group to pass the skipped records', async () => (await r.committedTotal()) === KEYS * 6, 10_000);
    expect((await commands()) - before).toBe(1); // the INFO call of `before` itself
  });

  it('records the handler refuses by content (accepts) cost no Redis command and never reach it', async () => {
    const r = await rig({ accepts: (e) => e.type === 'OrderStatusChanged' && e.payload.status === 'PENDING' });
    await r.consumer();
    await r.producer.publish(steps(1, 1));
    await allApplied(r, 1);
    await waitFor('the first commit', async () => (await r.committedTotal()) === KEYS, 10_000);
    const commands = async () => Number(/^total_commands_processed:(\d+)/m.exec(await r.client.info('stats'))![1]);
    const before = await commands();
    const refused = keys.flatMap((key) =>
      Array.from({ length: 3 }, (_, i) =>
        createEvent('OrderStatusChanged', { orderId: key, customerId: 'c', sequence: 2 + i, status: 'CONFIRMED', previous: 'PENDING', reason: null, at: '2026-01-01T00:00:00.000Z' }, { key, correlationId: `corr-${key}` }),
      ),
    );
    await r.producer.publish(refused);
    await waitFor('the group to pass the refused records', async () => (await r.committedTotal()) === KEYS * 4, 10_000);
    expect((await commands()) - before).toBe(1); // the INFO call of `before` itself
    for (const log of await r.logs()) expect(log).toEqual([1]);
  });

  it('a member that joins after the crash starts from the offsets Redis kept, not from Kafka’s commits', async () => {
    const r = await rig();
    const first = await r.consumer();
    await loseTheSecondHalf(r);
    await first.close();

    await r.redis.crash();
    await r.redis.restart();
    await r.consumer();

    await allApplied(r, 2 * STEPS);
    for (const log of await r.logs()) expect(log).toEqual(inOrder(2 * STEPS));
    expect(r.gaps).toEqual([]);
  });
});
