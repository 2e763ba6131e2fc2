import { ConfigResourceTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/index.js';
import { ErrorCode } from '../../src/broker/protocol/errors.js';
import { Reader } from '../../src/broker/protocol/reader.js';
import type { Writer } from '../../src/broker/protocol/writer.js';
import { kafkaFor, RawClient, startTestBroker, waitFor } from './helpers.js';

let broker: Broker;
beforeAll(async () => {
  broker = await startTestBroker({ defaultPartitions: 2, retentionMs: 3_600_000 });
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
      // Produce is listed from v0 like Kafka 4 does, or librdkafka silently stops compressing (KAFKA-18659).
      expect(keys.find((k) => k.apiKey === 0)).toEqual({ apiKey: 0, min: 0, max: 8 });
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
    // Produce v1 is advertised (see above) but, as on Kafka 4, never served.
    for (const [key, version] of [[9999, 0], [0, 1], [0, 2], [1, 99]] as const) {
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

/** Commits as a non-member (generation -1), as admin tools do; kafkajs' setOffsets runs a paused consumer for seconds. */
async function commitOffset(groupId: string, topic: string, partition: number, offset: number): Promise<void> {
  const raw = await RawClient.connect(broker.port);
  try {
    const r = new Reader(
      await raw.request(8, 2, (w) => {
        w.string(groupId).int32(-1).string('').int64(-1);
        w.array([topic], (w, t) => w.string(t).array([partition], (w, p) => w.int32(p).int64(offset).nullableString(null)));
      }),
    );
    r.int32();
    const topics = r.array((r) => ({ name: r.string(), partitions: r.array((r) => [r.int32(), r.int16()]) }));
    expect(topics).toEqual([{ name: topic, partitions: [[partition, 0]] }]);
  } finally {
    raw.close();
  }
}

describe('configs and group deletion', () => {
  it('describes topic and broker configs as the values that apply', async () => {
    const admin = kafkaFor(broker.address).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'configured', numPartitions: 1 }] });
      const { resources } = await admin.describeConfigs({
        includeSynonyms: true,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: 'configured' },
          { type: ConfigResourceTypes.BROKER, name: '0', configNames: ['log.retention.ms', 'num.partitions', 'no.such.key'] },
        ],
      });
      const [topic, brokerRes] = resources;
      const byName = Object.fromEntries(topic!.configEntries.map((e) => [e.configName, e]));
      expect(byName['retention.ms']).toMatchObject({ configValue: '3600000', readOnly: true, isDefault: false, configSource: 4 });
      expect(byName['retention.ms']!.configSynonyms).toEqual([{ configName: 'log.retention.ms', configValue: '3600000', configSource: 4 }]);
      expect(byName['cleanup.policy']).toMatchObject({ configValue: 'delete', isDefault: true, configSource: 5 });
      expect(brokerRes!.errorCode).toBe(0);
      expect(brokerRes!.configEntries.map((e) => [e.configName, e.configValue])).toEqual([
        ['num.partitions', '2'],
        ['log.retention.ms', '3600000'],
      ]);
      await expect(admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'not-there' }] }))
        .rejects.toMatchObject({ type: 'UNKNOWN_TOPIC_OR_PARTITION' });
    } finally {
      await admin.disconnect();
    }
  });

  it('encodes DescribeConfigs v3 (the version the Java admin client settles on) with types and documentation', async () => {
    const raw = await RawClient.connect(broker.port);
    try {
      const r = new Reader(
        await raw.request(32, 3, (w) => {
          // One BROKER (4) resource, one key; include_synonyms and include_documentation.
          w.array([0], (w) => w.int8(4).string('0').array(['socket.request.max.bytes'], (w, k) => w.string(k)));
          w.bool(true).bool(true);
        }),
      );
      r.int32();
      expect(r.int32()).toBe(0);
      const results = r.array((r) => ({
        errorCode: r.int16(),
        errorMessage: r.nullableString(),
        resourceType: r.int8(),
        resourceName: r.string(),
        configs: r.array((r) => ({
          name: r.string(),
          value: r.nullableString(),
          readOnly: r.bool(),
          source: r.int8(),
          sensitive: r.bool(),
          synonyms: r.array((r) => [r.string(), r.nullableString(), r.int8()]),
          type: r.int8(),
          documentation: r.nullableString(),
        })),
      }));
      expect(r.remaining).toBe(0);
      expect(results).toEqual([
        {
          errorCode: 0,
          errorMessage: null,
          resourceType: 4,
          resourceName: '0',
          configs: [
            {
              name: 'socket.request.max.bytes',
              value: String(100 * 1024 * 1024),
              readOnly: true,
              source: 4,
              sensitive: false,
              synonyms: [['socket.request.max.bytes', String(100 * 1024 * 1024), 4]],
              type: 3,
              documentation: 'Largest request frame accepted.',
            },
          ],
        },
      ]);
    } finally {
      raw.close();
    }
  });

  it('deletes empty groups with their offsets, and refuses groups with members', async () => {
    const kafka = kafkaFor(broker.address);
    const admin = kafka.admin();
    const consumer = kafka.consumer({ groupId: 'busy', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'doomed', numPartitions: 1 }] });
      await commitOffset('idle', 'doomed', 0, 0);
      await consumer.connect();
      await consumer.subscribe({ topic: 'doomed', fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
      await waitFor('busy group stable', async () => (await admin.describeGroups(['busy'])).groups[0]!.state === 'Stable');

      // kafkajs rejects when any group fails and lists only the failed ones.
      const err = await admin.deleteGroups(['idle', 'busy', 'never-existed']).catch((e: { groups?: unknown }) => e);
      expect((err as { groups: unknown }).groups).toEqual([
        expect.objectContaining({ groupId: 'busy', errorCode: ErrorCode.NON_EMPTY_GROUP }),
        expect.objectContaining({ groupId: 'never-existed', errorCode: ErrorCode.GROUP_ID_NOT_FOUND }),
      ]);
      expect((await admin.fetchOffsets({ groupId: 'idle', topics: ['doomed'] }))[0]!.partitions[0]!.offset).toBe('-1');
      expect((await admin.describeGroups(['idle'])).groups[0]!.state).toBe('Dead');

      await consumer.disconnect();
      expect(await admin.deleteGroups(['busy'])).toEqual([expect.objectContaining({ groupId: 'busy', errorCode: 0 })]);
      expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain('busy');
    } finally {
      await consumer.disconnect();
      await admin.disconnect();
    }
  });

  it('deletes committed offsets (OffsetDelete) except for topics a live member subscribes to', async () => {
    const kafka = kafkaFor(broker.address);
    const admin = kafka.admin();
    const consumer = kafka.consumer({ groupId: 'pruned', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    const raw = await RawClient.connect(broker.port);
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'kept', numPartitions: 1 }, { topic: 'dropped', numPartitions: 1 }] });
      for (const topic of ['kept', 'dropped']) await commitOffset('pruned', topic, 0, 0);
      await consumer.connect();
      await consumer.subscribe({ topic: 'kept', fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
      await waitFor('pruned group stable', async () => (await admin.describeGroups(['pruned'])).groups[0]!.state === 'Stable');

      const offsetDelete = async (groupId: string, topics: [string, number[]][]) => {
        const body = (w: Writer) => w.string(groupId).array(topics, (w, [t, ps]) => w.string(t).array(ps, (w, p) => w.int32(p)));
        const r = new Reader(await raw.request(47, 0, body));
        r.int32();
        const errorCode = r.int16();
        r.int32();
        const parts = r.array((r) => ({ name: r.string(), partitions: r.array((r) => [r.int32(), r.int16()]) }));
        expect(r.remaining).toBe(0);
        return { errorCode, parts };
      };
      expect(await offsetDelete('pruned', [['kept', [0]], ['dropped', [0, 9]]])).toEqual({
        errorCode: 0,
        parts: [
          { name: 'kept', partitions: [[0, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC]] },
          { name: 'dropped', partitions: [[0, 0], [9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]] },
        ],
      });
      const offsets = await admin.fetchOffsets({ groupId: 'pruned', topics: ['kept', 'dropped'] });
      expect(Object.fromEntries(offsets.map((t) => [t.topic, t.partitions[0]!.offset]))).toEqual({ kept: '0', dropped: '-1' });
      expect(await offsetDelete('no-such-group', [['kept', [0]]])).toEqual({ errorCode: ErrorCode.GROUP_ID_NOT_FOUND, parts: [] });
    } finally {
      raw.close();
      await consumer.disconnect();
      await admin.disconnect();
    }
  });
});
