import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { AnyEvent } from '../../src/contracts/envelope.js';
import { createEvent } from '../../src/contracts/create.js';
import { type ConsumerRunner, type HandlerContext, type StartConsumerOptions, startConsumer } from '../../src/kafka/consumer.js';
import { type EventProducer, createEventProducer } from '../../src/kafka/producer.js';
import { type TestKafka, type TestRedis, startKafka, startRedis, testLogger } from './helpers.js';

/**
 * Per file: one redis-server. Per test: a fresh in-memory broker (so no test sees another's records), a
 * producer, and every consumer it starts; all closed after the test, in reverse order.
 */
export function useEventInfra() {
  let redis: TestRedis;
  const disposers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    for (const dispose of disposers.splice(0).reverse()) await dispose().catch(() => undefined);
  });

  return {
    get redis(): TestRedis {
      return redis;
    },
    async start(): Promise<{ kafka: TestKafka; producer: EventProducer }> {
      await redis.client.flushdb(); // a fresh broker reuses topic names and offsets: no markers from an earlier test
      const kafka = await startKafka();
      disposers.push(() => kafka.close());
      const producer = await createEventProducer({ kafka: kafka.kafka, logger: testLogger });
      disposers.push(() => producer.close());
      return { kafka, producer };
    },
    async consumer(
      kafka: TestKafka,
      producer: EventProducer,
      opts: Partial<StartConsumerOptions> & Pick<StartConsumerOptions, 'handle'>,
    ): Promise<ConsumerRunner> {
      const runner = await startConsumer({
        kafka: kafka.kafka,
        redis: redis.client,
        groupId: `g-${randomUUID()}`,
        topics: ['shop.orders'],
        logger: testLogger,
        producer,
        sessionTimeoutMs: 6_000,
        initialRetryDelayMs: 20,
        maxRetryDelayMs: 200,
        ...opts,
      });
      disposers.push(() => runner.close());
      return runner;
    },
  };
}

/** Records what a handler saw. */
export function recorder() {
  const seen: { event: AnyEvent; ctx: HandlerContext }[] = [];
  return {
    seen,
    ids: () => seen.map((s) => s.event.id),
    handle: async (event: AnyEvent, ctx: HandlerContext) => {
      seen.push({ event, ctx });
    },
  };
}

export function cancellation(orderId: string, meta: { id?: string; correlationId?: string; causationId?: string | null } = {}) {
  return createEvent(
    'OrderCancellationRequested',
    { orderId, requestedBy: 'cus-1', reason: 'changed my mind' },
    { key: orderId, correlationId: meta.correlationId ?? `corr-${orderId}`, ...meta },
  );
}
