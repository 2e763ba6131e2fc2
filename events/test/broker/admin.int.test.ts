import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/index.js';
import { ErrorCode } from '../../src/broker/protocol/errors.js';
import { Reader } from '../../src/broker/protocol/reader.js';
import { kafkaFor, RawClient, startTestBroker } from './helpers.js';

let broker: Broker;
beforeAll(async () => {
  broker = await startTestBroker({ defaultPartitions: 2 });
});
afterAll(async () => {
  await broker?.close();
});

describe('admin', () => {
  it('creates, lists, describes, grows and deletes topics', async () => {
    const admin = kafkaFor(broker.address).admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }, { topic: 'payments' }] })).toBe(true);
      expect(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] })).toBe(false);
      expect((await admin.listTopics()).sort()).toEqual(['orders', 'payments']);

      const meta = await admin.fetchTopicMetadata({ topics: ['orders', 'payments'] });
      const byName = Object.fromEntries(meta.topics.map((t) => [t.name, t.partitions]));
      expect(byName.orders!.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
      expect(byName.orders!.every((p) => p.leader === 0 && p.partitionErrorCode === 0)).toBe(true);
      expect(byName.payments).toHaveLength(2);

      await admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 5 }] });
      const grown = await admin.fetchTopicMetadata({ topics: ['orders'] });
      expect(grown.topics[0]!.partitions).toHaveLength(5);
      await expect(admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 2 }] })).rejects.toThrow();

      await admin.deleteTopics({ topics: ['payments'] });
      expect(await admin.listTopics()).toEqual(['orders']);
      await expect(admin.createTopics({ topics: [{ topic: 'bad name!' }] })).rejects.toThrow();
    } finally {
      await admin.disconnect();
    }
  });

  it('describes and lists consumer groups', async () => {
    const kafka = kafkaFor(broker.address);
    const admin = kafka.admin();
    const consumer = kafka.consumer({ groupId: 'describe-me', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    await admin.connect();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'orders', fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
      let described;
      for (let i = 0; i < 100; i++) {
        described = (await admin.describeGroups(['describe-me'])).groups[0]!;
        if (described.state === 'Stable') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(described!.state).toBe('Stable');
      expect(described!.protocolType).toBe('consumer');
      expect(described!.members).toHaveLength(1);
      expect(described!.members[0]!.memberAssignment.length).toBeGreaterThan(0);
      const { groups } = await admin.listGroups();
      expect(groups).toContainEqual({ groupId: 'describe-me', protocolType: 'consumer' });
      const unknown = (await admin.describeGroups(['nobody'])).groups[0]!;
      expect(unknown.state).toBe('Dead');
    } finally {
      await consumer.disconnect();
      await admin.disconnect();
    }
  });

  it('answers an unsupported ApiVersions version with the v0 error response', async () => {
    const raw = await RawClient.connect(broker.port);
    try {
      const frame = await raw.request(18, 99, () => {});
      const r = new Reader(frame);
      r.int32();
      expect(r.int16()).toBe(ErrorCode.UNSUPPORTED_VERSION);
      const keys = r.array((r) => ({ apiKey: r.int16(), min: r.int16(), max: r.int16() }));
      expect(keys).toContainEqual({ apiKey: 18, min: 0, max: 3 });
      expect(keys.find((k) => k.apiKey === 0)).toEqual({ apiKey: 0, min: 3, max: 8 });
      expect(r.remaining).toBe(0);

      // v3 is flexible: compact strings + tagged fields in, compact array out, v0 response header.
      const v3 = await raw.request(18, 3, (w) => w.emptyTaggedFields().compactString('raw').compactString('1.0').emptyTaggedFields());
      const r3 = new Reader(v3);
      r3.int32();
      expect(r3.int16()).toBe(0);
      const keys3 = r3.compactArray((r) => {
        const k = { apiKey: r.int16(), min: r.int16(), max: r.int16() };
        r.taggedFields();
        return k;
      });
      expect(keys3).toEqual(keys);
      expect(r3.int32()).toBe(0);
      r3.taggedFields();
      expect(r3.remaining).toBe(0);
    } finally {
      raw.close();
    }
  });

  it('closes a connection that uses an unknown api key or an unsupported version', async () => {
    for (const [key, version] of [[9999, 0], [0, 1], [1, 99]] as const) {
      const raw = await RawClient.connect(broker.port);
      void raw.request(key, version, () => {});
      await new Promise((r) => setTimeout(r, 100));
      expect(raw.closed).toBe(true);
    }
  });

  it('does not auto-create topics when the client disallows it, and rejects illegal names', async () => {
    const raw = await RawClient.connect(broker.port);
    try {
      const frame = await raw.request(3, 4, (w) => w.array(['no-such-topic', 'bad/name'], (w, t) => w.string(t)).bool(false));
      const r = new Reader(frame);
      r.int32();
      r.int32();
      r.array((r) => [r.int32(), r.string(), r.int32(), r.nullableString()]);
      r.nullableString();
      r.int32();
      const topics = r.array((r) => {
        const t = { error: r.int16(), name: r.string() };
        r.bool();
        r.array(() => {});
        return t;
      });
      expect(topics).toEqual([
        { error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name: 'no-such-topic' },
        { error: ErrorCode.INVALID_TOPIC_EXCEPTION, name: 'bad/name' },
      ]);
    } finally {
      raw.close();
    }
  });
});
