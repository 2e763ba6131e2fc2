/**
 * Record batch (magic v2), the unit the broker stores and serves verbatim:
 *
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 (=2)
 *   | crc uint32 (CRC-32C of everything from attributes to the end)
 *   | attributes int16 (bits 0-2 compression, 3 timestamp type, 4 transactional, 5 control)
 *   | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64
 *   | producerId int64 | producerEpoch int16 | baseSequence int32 | records [Record]
 *
 *   Record: length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
 *           | key varint-bytes | value varint-bytes | headers [key varint-string, value varint-bytes]
 *
 * baseOffset, batchLength and partitionLeaderEpoch sit before the CRC, so the broker can assign the
 * offset by patching 8 bytes without re-encoding or re-checksumming anything.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { crc32c } from './crc32c.js';
import { KafkaBrokerError } from './errors.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

export const BATCH_HEADER_BYTES = 61;
const LENGTH_FIELD_END = 12;
const MAGIC_AT = 16;
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;

export const Compression = { None: 0, Gzip: 1, Snappy: 2, Lz4: 3, Zstd: 4 } as const;

export interface BatchInfo {
  /** The batch bytes (a view into the request frame until the log copies it). */
  bytes: Buffer;
  lastOffsetDelta: number;
  maxTimestamp: number;
  firstTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  attributes: number;
}

export function readBatchHeader(buf: Buffer, at = 0): BatchInfo {
  const size = LENGTH_FIELD_END + buf.readInt32BE(at + 8);
  return {
    bytes: buf.subarray(at, at + size),
    attributes: buf.readInt16BE(at + ATTRIBUTES_AT),
    lastOffsetDelta: buf.readInt32BE(at + 23),
    firstTimestamp: Number(buf.readBigInt64BE(at + 27)),
    maxTimestamp: Number(buf.readBigInt64BE(at + 35)),
    producerId: Number(buf.readBigInt64BE(at + 43)),
    producerEpoch: buf.readInt16BE(at + 51),
    baseSequence: buf.readInt32BE(at + 53),
    recordCount: buf.readInt32BE(at + 57),
  };
}

export type BatchProblem = 'truncated' | 'magic' | 'crc';

/** Checks one batch at `at`; returns its size or what is wrong (recovery truncates on any problem). */
export function checkBatch(buf: Buffer, at: number): number | BatchProblem {
  if (buf.length - at < BATCH_HEADER_BYTES) return 'truncated';
  const length = buf.readInt32BE(at + 8);
  const size = LENGTH_FIELD_END + length;
  if (length < BATCH_HEADER_BYTES - LENGTH_FIELD_END || at + size > buf.length) return 'truncated';
  if (buf.readInt8(at + MAGIC_AT) !== 2) return 'magic';
  if (crc32c(buf, at + ATTRIBUTES_AT, at + size) !== buf.readUInt32BE(at + CRC_AT)) return 'crc';
  return size;
}

/**
 * Splits the records field of a produce request into validated batches. Throws the error Kafka
 * answers for that partition: CORRUPT_MESSAGE for a bad CRC or framing, UNSUPPORTED_FOR_MESSAGE_FORMAT
 * for the pre-v2 message sets, UNSUPPORTED_COMPRESSION_TYPE for codecs other than none and gzip.
 */
export function parseProducedBatches(records: Buffer): BatchInfo[] {
  const out: BatchInfo[] = [];
  let at = 0;
  while (at < records.length) {
    const res = checkBatch(records, at);
    if (res === 'magic') throw new KafkaBrokerError('UNSUPPORTED_FOR_MESSAGE_FORMAT');
    if (typeof res !== 'number') throw new KafkaBrokerError('CORRUPT_MESSAGE', `record batch ${res}`);
    const info = readBatchHeader(records, at);
    const codec = info.attributes & 0x07;
    if (codec !== Compression.None && codec !== Compression.Gzip) {
      throw new KafkaBrokerError('UNSUPPORTED_COMPRESSION_TYPE');
    }
    if (info.attributes & 0x30) throw new KafkaBrokerError('INVALID_RECORD', 'transactional/control batches unsupported');
    if (info.lastOffsetDelta < 0 || info.recordCount !== info.lastOffsetDelta + 1) {
      throw new KafkaBrokerError('CORRUPT_MESSAGE', 'record count does not match offset delta');
    }
    out.push(info);
    at += res;
  }
  if (out.length === 0) throw new KafkaBrokerError('CORRUPT_MESSAGE', 'empty records');
  return out;
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** Decodes the records of one stored batch; only needed off the hot path (timestamp lookups, tests). */
export function decodeRecords(batch: Buffer): DecodedRecord[] {
  const info = readBatchHeader(batch);
  const baseOffset = Number(batch.readBigInt64BE(0));
  let body = batch.subarray(BATCH_HEADER_BYTES, info.bytes.length);
  if ((info.attributes & 0x07) === Compression.Gzip) body = gunzipSync(body);
  const r = new Reader(body);
  const varBytes = (): Buffer | null => {
    const len = r.varint();
    return len < 0 ? null : r.raw(len);
  };
  const out: DecodedRecord[] = [];
  for (let i = 0; i < info.recordCount; i++) {
    r.varint();
    r.int8();
    const timestampDelta = r.varlong();
    const offsetDelta = r.varint();
    const key = varBytes();
    const value = varBytes();
    const headers: RecordHeader[] = [];
    const n = r.varint();
    for (let h = 0; h < n; h++) headers.push({ key: (varBytes() ?? Buffer.alloc(0)).toString(), value: varBytes() });
    out.push({ offset: baseOffset + offsetDelta, timestamp: info.firstTimestamp + timestampDelta, key, value, headers });
  }
  return out;
}

export interface RecordInput {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  timestamp?: number;
  headers?: Record<string, string | Buffer>;
}

export interface EncodeOptions {
  baseOffset?: number;
  compression?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
}

/** Builds a v2 batch the way a producer does; used by tests and the benchmark's raw clients. */
export function encodeRecordBatch(records: RecordInput[], opts: EncodeOptions = {}): Buffer {
  const now = Date.now();
  const firstTs = records[0]?.timestamp ?? now;
  let maxTs = firstTs;
  const body = new Writer(1024);
  const asBuf = (v: Buffer | string): Buffer => (typeof v === 'string' ? Buffer.from(v) : v);
  records.forEach((rec, i) => {
    const ts = rec.timestamp ?? now;
    if (ts > maxTs) maxTs = ts;
    const w = new Writer(128);
    w.int8(0).varlong(ts - firstTs).varint(i);
    for (const field of [rec.key ?? null, rec.value]) {
      if (field === null) w.varint(-1);
      else {
        const b = asBuf(field);
        w.varint(b.length).raw(b);
      }
    }
    const headers = Object.entries(rec.headers ?? {});
    w.varint(headers.length);
    for (const [k, v] of headers) {
      const kb = Buffer.from(k);
      const vb = asBuf(v);
      w.varint(kb.length).raw(kb).varint(vb.length).raw(vb);
    }
    body.varint(w.offset).raw(w.toBuffer());
  });
  const compression = opts.compression ?? Compression.None;
  const payload = compression === Compression.Gzip ? gzipSync(body.toBuffer()) : body.toBuffer();
  const w = new Writer(BATCH_HEADER_BYTES + payload.length);
  w.int64(opts.baseOffset ?? 0).int32(0).int32(0).int8(2).uint32(0);
  w.int16(compression).int32(records.length - 1).int64(firstTs).int64(maxTs);
  w.int64(opts.producerId ?? -1).int16(opts.producerEpoch ?? -1).int32(opts.baseSequence ?? -1);
  w.int32(records.length).raw(payload);
  w.patchInt32(8, w.offset - LENGTH_FIELD_END);
  const out = w.toBuffer();
  out.writeUInt32BE(crc32c(out, ATTRIBUTES_AT), CRC_AT);
  return out;
}

/** Splits stored bytes (possibly several batches) back into batches. */
export function splitBatches(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (buf.length - at >= LENGTH_FIELD_END) {
    const size = LENGTH_FIELD_END + buf.readInt32BE(at + 8);
    if (at + size > buf.length) break;
    out.push(buf.subarray(at, at + size));
    at += size;
  }
  return out;
}
