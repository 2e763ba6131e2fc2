import { CompressionTypes, type Consumer, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/index.js';
import { ErrorCode } from '../../src/broker/protocol/errors.js';
import { Reader } from '../../src/broker/protocol/reader.js';
import { encodeRecordBatch } from '../../src/broker/protocol/record-batch.js';
import { Writer } from '../../src/broker/protocol/writer.js';
import { kafkaFor, RawClient, startTestBroker, waitFor } from './helpers.js';

let broker: Broker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(async () => {
  await broker?.close();
});

async function consumeAll(consumer: Consumer, topic: string, expected: number, timeoutMs = 30_000) {
  const got: { partition: number; message: KafkaMessage }[] = [];
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ partition, message }) => void got.push({ partition, message }) });
  await waitFor(`${expected} messages from ${topic}`, () => got.length >= expected, timeoutMs);
  return got;
}

describe('produce and fetch', () => {
  it('keeps per-key order for 10,000 keyed messages over 6 partitions', async () => {
    const kafka = kafkaFor(broker.address);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'keyed', numPartitions: 6 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    const keys = 50;
    const total = 10_000;
    // Sequential sends: order between concurrent send() calls is not something Kafka promises either.
    for (let i = 0; i < total; i += 500) {
      const messages = Array.from({ length: 500 }, (_, j) => ({ key: `k${(i + j) % keys}`, value: String(i + j) }));
      await producer.send({ topic: 'keyed', acks: -1, messages });
    }
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'keyed-order', maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      const got = await consumeAll(consumer, 'keyed', total);
      expect(got).toHaveLength(total);
      const lastByKey = new Map<string, number>();
      const partitionOfKey = new Map<string, number>();
      for (const { partition, message } of got) {
        const key = message.key!.toString();
        const seq = Number(message.value!.toString());
        expect(seq).toBeGreaterThan(lastByKey.get(key) ?? -1);
        lastByKey.set(key, seq);
        expect(partitionOfKey.get(key) ?? partition).toBe(partition);
        partitionOfKey.set(key, partition);
      }
      expect(new Set(partitionOfKey.values()).size).toBe(6);
    } finally {
      await consumer.disconnect();
    }
  });

  it('round-trips gzip batches, headers and timestamps, and lists offsets by timestamp', async () => {
    const kafka = kafkaFor(broker.address);
    const producer = kafka.producer();
    await producer.connect();
    const base = Date.now() - 60_000;
    await producer.send({
      topic: 'gzipped',
      compression: CompressionTypes.GZIP,
      messages: Array.from({ length: 10 }, (_, i) => ({
        key: `k${i}`,
        value: `value-${i}`.repeat(20),
        timestamp: String(base + i * 1000),
        headers: { 'trace-id': `t${i}`, bin: Buffer.from([i, 255]) },
      })),
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'gzip-reader', maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      const got = await consumeAll(consumer, 'gzipped', 10);
      got.sort((a, b) => Number(a.message.offset) - Number(b.message.offset));
      got.forEach(({ message }, i) => {
        expect(message.value!.toString()).toBe(`value-${i}`.repeat(20));
        expect(message.timestamp).toBe(String(base + i * 1000));
        expect(message.headers!['trace-id']!.toString()).toBe(`t${i}`);
        expect([...(message.headers!.bin as Buffer)]).toEqual([i, 255]);
      });
    } finally {
      await consumer.disconnect();
    }

    const admin = kafka.admin();
    await admin.connect();
    try {
      const at = (ts: number) => admin.fetchTopicOffsetsByTimestamp('gzipped', ts);
      expect((await at(base + 3500))[0]).toEqual({ partition: 0, offset: '4' });
      expect((await at(base - 1))[0]!.offset).toBe('0');
      // Past the last record Kafka answers -1, which kafkajs maps to the high watermark.
      expect((await at(base + 99_000))[0]!.offset).toBe('10');
      expect(await admin.fetchTopicOffsets('gzipped')).toEqual([
        { partition: 0, offset: '10', high: '10', low: '0' },
      ]);
    } finally {
      await admin.disconnect();
    }
  });

  it('appends acks=0 produces without answering them', async () => {
    const kafka = kafkaFor(broker.address);
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < 3; i++) await producer.send({ topic: 'fire-and-forget', acks: 0, messages: [{ value: `f${i}` }] });
    // An acks=1 send on the same connection proves no stray response confused the client.
    await producer.send({ topic: 'fire-and-forget', acks: 1, messages: [{ value: 'last' }] });
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    expect((await admin.fetchTopicOffsets('fire-and-forget'))[0]!.high).toBe('4');
    await admin.disconnect();
  });

  it('wakes a parked fetch as soon as a record is produced', async () => {
    const kafka = kafkaFor(broker.address);
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: 'latency', maxWaitTimeInMs: 5000 });
    await producer.connect();
    await consumer.connect();
    try {
      await producer.send({ topic: 'latency', messages: [{ value: 'warm-up' }] });
      const seen: number[] = [];
      await consumer.subscribe({ topic: 'latency', fromBeginning: true });
      await consumer.run({ eachMessage: async () => void seen.push(Date.now()) });
      await waitFor('warm-up', () => seen.length === 1);
      await new Promise((r) => setTimeout(r, 300));
      const sent = Date.now();
      await producer.send({ topic: 'latency', messages: [{ value: 'now' }] });
      await waitFor('second message', () => seen.length === 2, 10_000, 1);
      expect(seen[1]! - sent).toBeLessThan(200);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
  });
});

function produceBody(topic: string, batch: Buffer, acks = -1) {
  return (w: Writer) => {
    w.nullableString(null).int16(acks).int32(5000);
    w.array([topic], (w, t) => w.string(t).array([0], (w, p) => w.int32(p).bytes(batch)));
  };
}

function readProduce(frame: Buffer) {
  const r = new Reader(frame);
  r.int32();
  const [res] = r.array((r) => ({
    name: r.string(),
    partitions: r.array((r) => ({ index: r.int32(), errorCode: r.int16(), baseOffset: r.int64(), logAppendTime: r.int64(), logStartOffset: r.int64() })),
  }));
  return res!.partitions[0]!;
}

describe('idempotent producer', () => {
  it('stores a retried batch once and rejects out-of-order sequences', async () => {
    const admin = kafkaFor(broker.address).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'idem', numPartitions: 1 }] });
    const raw = await RawClient.connect(broker.port);
    try {
      const init = new Reader(await raw.request(22, 1, (w) => w.nullableString(null).int32(60_000)));
      init.int32();
      init.int32();
      expect(init.int16()).toBe(0);
      const producerId = init.int64();
      const producerEpoch = init.int16();
      expect(producerId).toBeGreaterThanOrEqual(0);

      const batch = (seq: number, n: number) =>
        encodeRecordBatch(Array.from({ length: n }, (_, i) => ({ value: `v${seq + i}` })), { producerId, producerEpoch, baseSequence: seq });
      const first = readProduce(await raw.request(0, 7, produceBody('idem', batch(0, 3))));
      expect(first).toMatchObject({ errorCode: 0, baseOffset: 0 });
      const retry = readProduce(await raw.request(0, 7, produceBody('idem', batch(0, 3))));
      expect(retry).toMatchObject({ errorCode: 0, baseOffset: 0 });
      const next = readProduce(await raw.request(0, 7, produceBody('idem', batch(3, 2))));
      expect(next).toMatchObject({ errorCode: 0, baseOffset: 3 });
      const gap = readProduce(await raw.request(0, 7, produceBody('idem', batch(9, 1))));
      expect(gap.errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);

      const corrupt = batch(5, 1);
      corrupt[corrupt.length - 1]! ^= 0xff;
      expect(readProduce(await raw.request(0, 7, produceBody('idem', corrupt))).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);

      expect(await admin.fetchTopicOffsets('idem')).toEqual([{ partition: 0, offset: '5', high: '5', low: '0' }]);
    } finally {
      raw.close();
      await admin.disconnect();
    }
  });

  it('works with the kafkajs idempotent producer', async () => {
    const kafka = kafkaFor(broker.address);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < 5; i++) await producer.send({ topic: 'idem-kafkajs', messages: [{ value: `m${i}` }, { value: `n${i}` }] });
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    expect((await admin.fetchTopicOffsets('idem-kafkajs'))[0]!.high).toBe('10');
    await admin.disconnect();
  });
});

describe('bad input', () => {
  it('garbage on one connection does not disturb a producer and a consumer on others', async () => {
    const kafka = kafkaFor(broker.address);
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: 'survivor', maxWaitTimeInMs: 100 });
    await producer.connect();
    await consumer.connect();
    const got: string[] = [];
    await consumer.subscribe({ topic: 'resilient', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
    const garbage = [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
      Buffer.from([0x7f, 0, 0, 0]),
      Buffer.from([0, 0, 0, 12, 0, 3, 0, 4, 0, 0, 0, 1, 0x7f, 0xff, 0, 0]),
      Buffer.from([0, 0, 0, 30, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    ];
    try {
      for (let round = 0; round < 5; round++) {
        for (const g of garbage) {
          const raw = await RawClient.connect(broker.port);
          raw.socket.write(g);
          raw.socket.write(Buffer.from(Array.from({ length: 64 }, () => Math.floor(Math.random() * 256))));
        }
        await producer.send({ topic: 'resilient', messages: [{ value: `r${round}` }] });
      }
      await waitFor('all messages', () => got.length === 5);
      expect(got).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
  });
});

describe('fuzzing', () => {
  it('survives random bodies for every advertised api and version', async () => {
    const { codecs } = await import('../../src/broker/protocol/requests/index.js');
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (const codec of codecs) {
      for (let v = codec.minVersion; v <= codec.maxVersion; v++) {
        const raw = await RawClient.connect(broker.port);
        for (let i = 0; i < 5 && !raw.closed; i++) {
          const body = Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)));
          // Small counts/lengths so some bodies decode into (nonsense) requests rather than all failing early.
          if (body.length > 4 && rand() < 0.5) body.writeInt32BE(Math.floor(rand() * 3), 0);
          void raw.request(codec.apiKey, v, (w) => w.raw(body));
        }
        await new Promise((r) => setTimeout(r, 5));
        raw.close();
      }
    }
    const check = await RawClient.connect(broker.port);
    const frame = await check.request(18, 0, () => {});
    expect(frame.readInt16BE(4)).toBe(0);
    check.close();
    const admin = kafkaFor(broker.address).admin();
    await admin.connect();
    expect(Array.isArray(await admin.listTopics())).toBe(true);
    await admin.disconnect();
  });
});

describe('connection handling', () => {
  it('keeps responses in request order behind a parked fetch', async () => {
    const admin = kafkaFor(broker.address).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'ordering', numPartitions: 1 }] });
    await admin.disconnect();
    const raw = await RawClient.connect(broker.port);
    try {
      const order: string[] = [];
      const fetch = raw
        .request(1, 7, (w) => {
          w.int32(-1).int32(300).int32(1).int32(1 << 20).int8(0).int32(0).int32(-1);
          w.array(['ordering'], (w, t) => w.string(t).array([0], (w, p) => w.int32(p).int64(0).int64(0).int32(1 << 20)));
          w.array([], () => {});
        })
        .then(() => order.push('fetch'));
      const versions = raw.request(18, 0, () => {}).then(() => order.push('apiVersions'));
      const t0 = Date.now();
      await Promise.all([fetch, versions]);
      expect(order).toEqual(['fetch', 'apiVersions']);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    } finally {
      raw.close();
    }
  });

  it('reassembles frames split into single bytes and closes on frames over the limit', async () => {
    const small = await startTestBroker({ maxFrameBytes: 1024 });
    try {
      const raw = await RawClient.connect(small.port);
      const w = new Writer();
      w.int32(0).int16(18).int16(0).int32(77).string('slow');
      w.patchInt32(0, w.offset - 4);
      const frame = Buffer.from(w.toBuffer());
      const answer = new Promise<Buffer>((res) => raw.socket.once('data', res));
      for (const byte of frame) {
        raw.socket.write(Buffer.from([byte]));
        await new Promise((r) => setTimeout(r, 2));
      }
      expect((await answer).readInt32BE(4)).toBe(77);
      const big = Buffer.alloc(8);
      big.writeInt32BE(2048, 0);
      raw.socket.write(big);
      await waitFor('connection closed', () => raw.closed, 2000);
    } finally {
      await small.close();
    }
  });
});
