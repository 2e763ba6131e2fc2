import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { encodeRecordBatch, parseProducedBatches } from '../protocol/record-batch.js';
import { LogManager, type LogManagerOptions } from './log-manager.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const opts = (dataDir: string | null): LogManagerOptions => ({
  dataDir,
  segmentBytes: 1 << 20,
  retentionBytes: 1 << 30,
  retentionMs: 1e12,
  fsync: 'interval',
  fsyncIntervalMs: 1000,
  logger: pino({ level: 'silent' }),
});

describe('LogManager', () => {
  it('persists topics, partitions and the producer id counter', () => {
    const dir = mkdtempSync(join(tmpdir(), 'logmgr-'));
    dirs.push(dir);
    const a = new LogManager(opts(dir));
    a.createTopic('orders', 2);
    a.addPartitions('orders', 4);
    a.get('orders', 3)!.append(parseProducedBatches(encodeRecordBatch([{ value: 'x' }])));
    const pid = a.allocateProducerId();
    a.close();
    const b = new LogManager(opts(dir));
    expect(b.partitions('orders')).toHaveLength(4);
    expect(b.get('orders', 3)!.highWatermark).toBe(1);
    expect(b.allocateProducerId()).toBeGreaterThan(pid);
    b.deleteTopic('orders');
    b.close();
    expect(new LogManager(opts(dir)).topicNames()).toEqual([]);
  });

  it('validates names, counts and duplicates with Kafka error codes', () => {
    const m = new LogManager(opts(null));
    const code = (fn: () => void) => {
      try {
        fn();
        return 0;
      } catch (err) {
        return (err as { code: number }).code;
      }
    };
    expect(code(() => m.createTopic('a/b', 1))).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    expect(code(() => m.createTopic('x'.repeat(250), 1))).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    expect(code(() => m.createTopic('..', 1))).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    expect(code(() => m.createTopic('ok', 0))).toBe(ErrorCode.INVALID_PARTITIONS);
    expect(code(() => m.createTopic('ok', 1))).toBe(0);
    expect(code(() => m.createTopic('ok', 1))).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
    expect(code(() => m.addPartitions('ok', 1))).toBe(ErrorCode.INVALID_PARTITIONS);
    expect(code(() => m.addPartitions('nope', 3))).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(code(() => m.deleteTopic('nope'))).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    m.close();
  });
});
