import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '../../src/broker/index.js';
import { createKafka } from '../../src/kafka/client.js';
import { startConsumer } from '../../src/kafka/consumer.js';
import { createEventProducer } from '../../src/kafka/producer.js';
import { ensureTopics } from '../../src/kafka/topics-admin.js';
import { cancellation, recorder } from './fixture.js';
import { type TestRedis, freePort, startRedis, testLogger, waitFor } from './helpers.js';

describe('consumer through a broker restart', () => {
  let redis: TestRedis;
  let dataDir: string;
  beforeAll(async () => {
    redis = await startRedis();
    dataDir = await mkdtemp(join(tmpdir(), 'events-broker-'));
  });
  afterAll(async () => {
    await redis?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps consuming after the broker goes away and comes back on the same address', async () => {
    const port = await freePort();
    const start = () => startBroker({ host: '127.0.0.1', port, dataDir, fsync: 'never', logger: testLogger });
    let broker: Broker = await start();
    const kafka = createKafka({ brokers: [broker.address], clientId: 'restart-test', logger: testLogger, kafkaConfig: { retry: { retries: 3, initialRetryTime: 100 } } });
    await ensureTopics(kafka, { topics: ['shop.orders', 'shop.orders.dlq'] });
    const producer = await createEventProducer({ kafka, logger: testLogger });
    const rec = recorder();
    const runner = await startConsumer({ kafka, redis: redis.client, groupId: 'g-restart', topics: ['shop.orders'], logger: testLogger, producer, sessionTimeoutMs: 6_000, handle: rec.handle });
    try {
      await producer.publish(cancellation('ord-1', { id: 'evt-before' }));
      await waitFor('the first event', () => rec.seen.length === 1);

      await broker.close();
      await new Promise((r) => setTimeout(r, 1_500)); // long enough for fetches and heartbeats to fail
      broker = await start();

      await waitFor('the producer to get through again', async () => {
        await producer.publish(cancellation('ord-1', { id: 'evt-after' }));
        return true;
      }, 20_000, 500);
      await waitFor('the event after the restart', () => rec.ids().includes('evt-after'), 30_000);
      expect(rec.ids().filter((id) => id === 'evt-before')).toHaveLength(1);
    } finally {
      await runner.close().catch(() => undefined);
      await producer.close().catch(() => undefined);
      await broker.close();
    }
  }, 60_000);
});
