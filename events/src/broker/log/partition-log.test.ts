import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, KafkaBrokerError } from '../protocol/errors.js';
import { encodeRecordBatch, parseProducedBatches, splitBatches } from '../protocol/record-batch.js';
import { PartitionLog, type LogConfig } from './partition-log.js';
import { TAIL_BYTES } from './segment.js';

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'plog-'));
  dirs.push(d);
  return d;
}
const cfg = (dir: string | null, over: Partial<LogConfig> = {}): LogConfig => ({
  dir,
  segmentBytes: 1 << 20,
  retentionBytes: 1 << 30,
  retentionMs: 1e12,
  ...over,
});
const batch = (n: number, opts = {}) => parseProducedBatches(encodeRecordBatch(Array.from({ length: n }, (_, i) => ({ value: `v${i}` })), opts));

describe('PartitionLog', () => {
  it('assigns offsets, reads whole batches from the one containing the offset, and bounds reads', () => {
    for (const dir of [null, tmp()]) {
      const log = PartitionLog.open('t', 0, cfg(dir), logger);
      expect(log.append(batch(3))).toBe(0);
      expect(log.append(batch(2))).toBe(3);
      expect(log.highWatermark).toBe(5);
      const all = log.read(4, 1 << 20, true);
      expect(splitBatches(Buffer.concat(all.records)).map((b) => Number(b.readBigInt64BE(0)))).toEqual([3]);
      expect(log.read(0, 1, true).records).toHaveLength(1);
      expect(log.read(0, 1, false).records).toHaveLength(0);
      expect(log.read(5, 100, true).records).toHaveLength(0);
      expect(() => log.read(6, 100, true)).toThrow(KafkaBrokerError);
      log.close();
    }
  });

  it('measures what a read returns without reading, with the same bounds and errors', () => {
    for (const dir of [null, tmp()]) {
      const log = PartitionLog.open('t', 0, cfg(dir, { segmentBytes: 300 }), logger);
      for (let i = 0; i < 8; i++) log.append(batch(2));
      for (const [offset, maxBytes, atLeastOne] of [[0, 1 << 20, true], [3, 1 << 20, true], [0, 1, true], [0, 1, false], [5, 250, false], [16, 100, true]] as const) {
        expect(log.readableBytes(offset, maxBytes, atLeastOne)).toBe(log.read(offset, maxBytes, atLeastOne).bytes);
      }
      expect(() => log.readableBytes(17, 100, true)).toThrow(KafkaBrokerError);
      log.close();
    }
  });

  it('serves the tail of a file log from memory and older batches from the file, with the same bytes', () => {
    const dir = tmp();
    const log = PartitionLog.open('t', 0, cfg(dir, { segmentBytes: 1 << 30 }), logger);
    const big = 'x'.repeat(4096);
    const count = Math.ceil((2 * TAIL_BYTES) / big.length);
    for (let i = 0; i < count; i++) log.append(parseProducedBatches(encodeRecordBatch([{ value: `${i}:${big}` }])));
    const fromMemory = log.read(count - 1, 1 << 20, true);
    const fromFile = log.read(0, 1 << 22, true);
    log.close();
    const reopened = PartitionLog.open('t', 0, cfg(dir, { segmentBytes: 1 << 30 }), logger);
    // Reopened: nothing in memory, every batch from the file.
    expect(Buffer.concat(reopened.read(0, 1 << 22, true).records)).toEqual(Buffer.concat(fromFile.records));
    expect(Buffer.concat(reopened.read(count - 1, 1 << 20, true).records)).toEqual(Buffer.concat(fromMemory.records));
    expect(splitBatches(Buffer.concat(fromFile.records))).toHaveLength(count);
    reopened.close();
  });

  it('recovers the index on reopen and cuts a torn tail', () => {
    const dir = tmp();
    const log = PartitionLog.open('t', 0, cfg(dir), logger);
    log.append(batch(2));
    log.append(batch(2));
    log.close();
    const [file] = readdirSync(dir);
    const path = join(dir, file!);
    const sizeBefore = statSync(path).size;
    const torn = encodeRecordBatch([{ value: 'half-written' }]);
    appendFileSync(path, torn.subarray(0, torn.length - 5));
    const reopened = PartitionLog.open('t', 0, cfg(dir), logger);
    expect(reopened.highWatermark).toBe(4);
    expect(statSync(path).size).toBe(sizeBefore);
    expect(reopened.append(batch(1))).toBe(4);
    reopened.close();
  });

  it('rolls segments and deletes old ones by size and by age, advancing the log start offset', () => {
    for (const dir of [null, tmp()]) {
      const one = batch(1)[0]!.bytes.length;
      const log = PartitionLog.open('t', 0, cfg(dir, { segmentBytes: one * 2, retentionBytes: one * 4 }), logger);
      for (let i = 0; i < 10; i++) log.append(batch(1));
      expect(log.highWatermark).toBe(10);
      expect(log.logStartOffset).toBeGreaterThan(0);
      expect(log.sizeBytes).toBeLessThanOrEqual(one * 6);
      expect(() => log.read(0, 100, true)).toThrow(expect.objectContaining({ code: ErrorCode.OFFSET_OUT_OF_RANGE }));
      const start = log.logStartOffset;
      expect(log.enforceRetention(Date.now() + 1e13)).toBeGreaterThan(0);
      expect(log.logStartOffset).toBeGreaterThan(start);
      if (dir) expect(readdirSync(dir).length).toBeLessThanOrEqual(2);
      log.close();
    }
  });

  it('deduplicates idempotent retries and rejects sequence gaps, also after recovery', () => {
    const dir = tmp();
    const log = PartitionLog.open('t', 0, cfg(dir), logger);
    const p = { producerId: 42, producerEpoch: 0 };
    expect(log.append(batch(2, { ...p, baseSequence: 0 }))).toBe(0);
    expect(log.append(batch(2, { ...p, baseSequence: 0 }))).toBe(0);
    expect(log.append(batch(1, { ...p, baseSequence: 2 }))).toBe(2);
    expect(() => log.append(batch(1, { ...p, baseSequence: 5 }))).toThrow(
      expect.objectContaining({ code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER }),
    );
    log.close();
    const again = PartitionLog.open('t', 0, cfg(dir), logger);
    expect(again.append(batch(1, { ...p, baseSequence: 2 }))).toBe(2);
    expect(again.highWatermark).toBe(3);
    again.close();
  });

  it('reopens a log spread over several segments and serves reads across segment boundaries', () => {
    const dir = tmp();
    const one = batch(1)[0]!.bytes.length;
    const log = PartitionLog.open('t', 0, cfg(dir, { segmentBytes: one * 3 }), logger);
    for (let i = 0; i < 10; i++) log.append(batch(1));
    log.close();
    expect(readdirSync(dir).filter((f) => f.endsWith('.log')).length).toBeGreaterThanOrEqual(3);
    const again = PartitionLog.open('t', 0, cfg(dir, { segmentBytes: one * 3 }), logger);
    expect([again.logStartOffset, again.highWatermark]).toEqual([0, 10]);
    const { records } = again.read(2, 1 << 20, true);
    const offsets = splitBatches(Buffer.concat(records)).map((b) => Number(b.readBigInt64BE(0)));
    expect(offsets).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    again.close();
  });
});
