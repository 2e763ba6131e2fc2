import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '../../src/broker/index.js';
import { createKafka } from '../../src/kafka/client.js';
import { allTopicsWithDeadLetters, ensureTopics } from '../../src/kafka/topics-admin.js';
import { testLogger } from './helpers.js';

describe('ensureTopics (embedded broker)', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startBroker({ host: '127.0.0.1', port: 0, logger: testLogger });
  });
  afterAll(async () => {
    await broker?.close();
  });

  it('creates every event topic and its .dlq with 6 partitions; concurrent and repeated calls are harmless', async () => {
    const kafka = createKafka({ brokers: [broker.address], clientId: 'topics-test', logger: testLogger });
    // Three services starting at once.
    await Promise.all([ensureTopics(kafka), ensureTopics(kafka), ensureTopics(kafka)]);
    await ensureTopics(kafka);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const expected = allTopicsWithDeadLetters();
      expect(expected).toEqual(['shop.orders', 'shop.orders.dlq', 'shop.payments', 'shop.payments.dlq', 'shop.inventory', 'shop.inventory.dlq']);
      const { topics } = await admin.fetchTopicMetadata({ topics: expected });
      expect(Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]))).toEqual(Object.fromEntries(expected.map((t) => [t, 6])));
    } finally {
      await admin.disconnect();
    }
  });
});
