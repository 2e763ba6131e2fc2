import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';
import { ErrorCode, KafkaBrokerError } from './errors.js';
import { Reader } from './reader.js';
import { Compression, decodeRecords, encodeRecordBatch, parseProducedBatches } from './record-batch.js';
import { Writer } from './writer.js';

describe('crc32c', () => {
  it('matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
  });
});

describe('reader/writer', () => {
  it('round-trips varints, varlongs and compact types', () => {
    const values = [0, 1, -1, 63, -64, 64, 300, -300, 2147483647, -2147483648];
    const w = new Writer(4);
    for (const v of values) w.varint(v);
    for (const v of [0, -1, 1234567890123, -1234567890123]) w.varlong(v);
    w.compactString('héllo').compactString(null).compactArray([1, 2], (w, n) => w.int32(n)).emptyTaggedFields();
    w.int64(-2).nullableString(null).bytes(Buffer.from([9]));
    const r = new Reader(w.toBuffer());
    expect(values.map(() => r.varint())).toEqual(values);
    expect([0, 1, 2, 3].map(() => r.varlong())).toEqual([0, -1, 1234567890123, -1234567890123]);
    expect(r.compactString()).toBe('héllo');
    expect(r.compactNullableString()).toBeNull();
    expect(r.compactArray((r) => r.int32())).toEqual([1, 2]);
    r.taggedFields();
    expect(r.int64()).toBe(-2);
    expect(r.nullableString()).toBeNull();
    expect([...r.bytes()]).toEqual([9]);
    expect(r.remaining).toBe(0);
  });

  it('throws on lengths that run past the frame or absurd array counts', () => {
    expect(() => new Reader(Buffer.from([0, 10, 65])).string()).toThrow(RangeError);
    expect(() => new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff])).array((r) => r.int8())).toThrow(RangeError);
    expect(() => new Reader(Buffer.from([0, 0])).int32()).toThrow(RangeError);
  });
});

describe('record batch v2', () => {
  it('encodes, validates and decodes records with headers, plain and gzip', () => {
    for (const compression of [Compression.None, Compression.Gzip]) {
      const batch = encodeRecordBatch(
        [
          { key: 'a', value: 'one', timestamp: 1000, headers: { h: 'x' } },
          { key: null, value: null, timestamp: 1005 },
        ],
        { compression, baseOffset: 7 },
      );
      const [info] = parseProducedBatches(batch);
      expect(info).toMatchObject({ lastOffsetDelta: 1, recordCount: 2, firstTimestamp: 1000, maxTimestamp: 1005 });
      const recs = decodeRecords(batch);
      expect(recs.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString() ?? null])).toEqual([
        [7, 1000, 'a', 'one'],
        [8, 1005, null, null],
      ]);
      expect(recs[0]!.headers).toEqual([{ key: 'h', value: Buffer.from('x') }]);
    }
  });

  it('rejects corrupt, truncated, old-format and unsupported-codec batches with Kafka codes', () => {
    const good = encodeRecordBatch([{ value: 'v' }]);
    const code = (buf: Buffer) => {
      try {
        parseProducedBatches(buf);
        return ErrorCode.NONE;
      } catch (err) {
        return (err as KafkaBrokerError).code;
      }
    };
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1]! ^= 1;
    expect(code(flipped)).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(code(good.subarray(0, good.length - 3))).toBe(ErrorCode.CORRUPT_MESSAGE);
    const v1 = Buffer.from(good);
    v1[16] = 1;
    expect(code(v1)).toBe(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);
    const snappy = encodeRecordBatch([{ value: 'v' }], { compression: Compression.Snappy });
    expect(code(snappy)).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    expect(code(Buffer.concat([good, good]))).toBe(ErrorCode.NONE);
    // Moving baseOffset does not touch the CRC, which is what lets the broker patch it in place.
    const moved = Buffer.from(good);
    moved.writeBigInt64BE(123n, 0);
    expect(code(moved)).toBe(ErrorCode.NONE);
  });

  it('gives errors a retriable flag and a cause', () => {
    const cause = new Error('disk');
    const e = new KafkaBrokerError('NOT_COORDINATOR', undefined, { cause });
    expect([e.code, e.retriable, e.cause]).toEqual([16, true, cause]);
    expect(new KafkaBrokerError('INVALID_TOPIC_EXCEPTION').retriable).toBe(false);
  });
});
