/**
 * The log of one partition: segments, offsets (log start, high watermark), idempotent-producer state
 * and the waiters of parked fetches. With a single replica the high watermark is simply the log end
 * offset, and last stable offset equals it because transactions are not supported.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { fdatasync } from 'node:fs';
import type { Logger } from 'pino';
import { KafkaBrokerError } from '../protocol/errors.js';
import { decodeRecords, type BatchInfo } from '../protocol/record-batch.js';
import { ProducerStateTable } from './producer-state.js';
import { Segment } from './segment.js';

export interface LogConfig {
  /** Directory of this partition, or null to keep it in memory. */
  dir: string | null;
  segmentBytes: number;
  retentionBytes: number;
  retentionMs: number;
}

export interface ReadResult {
  records: Buffer[];
  bytes: number;
}

export class PartitionLog {
  private segments: Segment[] = [];
  private nextOffset = 0;
  private readonly producers = new ProducerStateTable();
  private readonly waiters = new Set<() => void>();
  private syncing: Promise<void> | null = null;

  private constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly config: LogConfig,
  ) {}

  static open(topic: string, partition: number, config: LogConfig, logger: Logger): PartitionLog {
    const log = new PartitionLog(topic, partition, config);
    if (!config.dir) {
      log.segments.push(Segment.inMemory(0));
      return log;
    }
    mkdirSync(config.dir, { recursive: true });
    const bases = readdirSync(config.dir)
      .filter((f) => /^\d{20}\.log$/.test(f))
      .map((f) => Number(f.slice(0, 20)))
      .sort((a, b) => a - b);
    for (const [i, base] of bases.entries()) {
      const { segment, truncatedBytes } = Segment.recover(config.dir, base, (info, offset) => {
        if (info.producerId >= 0) {
          log.producers.record(info.producerId, info.producerEpoch, info.baseSequence, info.lastOffsetDelta, offset);
        }
      });
      if (truncatedBytes > 0) {
        logger.warn({ topic, partition, segment: base, truncatedBytes }, 'truncated torn tail of segment');
      }
      // A torn batch can only be at the very end; anything after a truncated segment is discarded too.
      log.segments.push(segment);
      if (truncatedBytes > 0 && i < bases.length - 1) {
        for (const later of bases.slice(i + 1)) Segment.recover(config.dir, later, () => {}).segment.delete();
        break;
      }
    }
    if (log.segments.length === 0) log.segments.push(Segment.create(config.dir, 0));
    const active = log.segments[log.segments.length - 1]!;
    log.nextOffset = active.batchCount ? active.lastOffset + 1 : active.baseOffset;
    return log;
  }

  get highWatermark(): number {
    return this.nextOffset;
  }
  get logStartOffset(): number {
    return this.segments[0]!.baseOffset;
  }
  get sizeBytes(): number {
    return this.segments.reduce((n, s) => n + s.size, 0);
  }

  /**
   * Assigns offsets and appends, synchronously, so concurrent produces to one partition are ordered
   * by arrival and a parked fetch sees the data as soon as its waiter runs. Returns the base offset of
   * the first batch (the original one for a retried idempotent batch).
   */
  append(batches: BatchInfo[]): number {
    let firstBase = -1;
    const toWrite: { bytes: Buffer; first: number; last: number; maxTimestamp: number; info: BatchInfo }[] = [];
    let offset = this.nextOffset;
    for (const b of batches) {
      if (b.producerId >= 0) {
        const dup = this.producers.check(b.producerId, b.producerEpoch, b.baseSequence, b.lastOffsetDelta);
        if (dup !== null) {
          if (firstBase < 0) firstBase = dup;
          continue;
        }
      }
      // Copy: the request frame is transient, and the stored bytes must not alias it.
      const bytes = Buffer.allocUnsafe(b.bytes.length);
      b.bytes.copy(bytes);
      bytes.writeBigInt64BE(BigInt(offset), 0);
      toWrite.push({ bytes, first: offset, last: offset + b.lastOffsetDelta, maxTimestamp: b.maxTimestamp, info: b });
      if (firstBase < 0) firstBase = offset;
      offset += b.lastOffsetDelta + 1;
    }
    if (toWrite.length === 0) return firstBase;
    const incoming = toWrite.reduce((n, b) => n + b.bytes.length, 0);
    let active = this.segments[this.segments.length - 1]!;
    if (active.size > 0 && active.size + incoming > this.config.segmentBytes) active = this.roll();
    active.append(toWrite);
    // Recorded only once the write succeeded, so a failed append is not later mistaken for a duplicate.
    for (const w of toWrite) {
      const b = w.info;
      if (b.producerId >= 0) this.producers.record(b.producerId, b.producerEpoch, b.baseSequence, b.lastOffsetDelta, w.first);
    }
    this.nextOffset = offset;
    if (this.sizeBytes > this.config.retentionBytes) this.enforceRetention(Date.now());
    this.notify();
    return firstBase;
  }

  private roll(): Segment {
    this.segments[this.segments.length - 1]!.releaseTail();
    const seg = this.config.dir ? Segment.create(this.config.dir, this.nextOffset) : Segment.inMemory(this.nextOffset);
    this.segments.push(seg);
    return seg;
  }

  /**
   * Whole batches starting with the one that contains `offset` (clients skip the records before it,
   * as with Kafka). Throws OFFSET_OUT_OF_RANGE outside [log start, high watermark].
   */
  read(offset: number, maxBytes: number, atLeastOne: boolean): ReadResult {
    if (offset < this.logStartOffset || offset > this.nextOffset) throw new KafkaBrokerError('OFFSET_OUT_OF_RANGE');
    const records: Buffer[] = [];
    let bytes = 0;
    for (const seg of this.segments) {
      if (seg.lastOffset < offset) continue;
      const from = seg.findBatch(offset);
      if (from < 0) continue;
      const chunk = seg.read(from, maxBytes - bytes, atLeastOne && bytes === 0);
      for (const c of chunk) {
        records.push(c);
        bytes += c.length;
      }
      // Stop at a segment boundary unless the budget allows more; keeps reads to one segment mostly.
      if (chunk.length === 0 || bytes >= maxBytes) break;
      offset = seg.lastOffset + 1;
    }
    return { records, bytes };
  }

  /** How many bytes `read` with the same arguments would return, without reading; throws as `read` does. */
  readableBytes(offset: number, maxBytes: number, atLeastOne: boolean): number {
    if (offset < this.logStartOffset || offset > this.nextOffset) throw new KafkaBrokerError('OFFSET_OUT_OF_RANGE');
    let bytes = 0;
    for (const seg of this.segments) {
      if (seg.lastOffset < offset) continue;
      const from = seg.findBatch(offset);
      if (from < 0) continue;
      const n = seg.readableBytes(from, maxBytes - bytes, atLeastOne && bytes === 0);
      bytes += n;
      if (n === 0 || bytes >= maxBytes) break;
      offset = seg.lastOffset + 1;
    }
    return bytes;
  }

  /** First offset whose record timestamp is >= `ts` (and that record's timestamp), or null. */
  offsetForTimestamp(ts: number): { offset: number; timestamp: number } | null {
    for (const seg of this.segments) {
      if (seg.maxTimestamp < ts) continue;
      for (let i = 0; i < seg.batchCount; i++) {
        if (seg.maxTimestamps[i]! < ts) continue;
        for (const rec of decodeRecords(seg.readBatch(i))) {
          if (rec.timestamp >= ts) return { offset: rec.offset, timestamp: rec.timestamp };
        }
      }
    }
    return null;
  }

  /**
   * Deletes whole old segments, never the active one: by size while the log stays at or above the
   * limit without the segment, and by age when a segment's newest record is older than retentionMs.
   */
  enforceRetention(now: number): number {
    let removed = 0;
    let total = this.sizeBytes;
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      const tooBig = total - oldest.size >= this.config.retentionBytes;
      const tooOld = oldest.maxTimestamp >= 0 && now - oldest.maxTimestamp > this.config.retentionMs;
      if (!tooBig && !tooOld) break;
      this.segments.shift();
      oldest.delete();
      total -= oldest.size;
      removed++;
    }
    return removed;
  }

  /** Registers a one-shot wake-up for the next append; returns the unregister function. */
  waitForAppend(cb: () => void): () => void {
    this.waiters.add(cb);
    return () => this.waiters.delete(cb);
  }

  private notify(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /**
   * fdatasync of the active segment, coalescing concurrent callers into at most one running plus one
   * queued call, so under fsync=always many produces share each sync (group commit).
   */
  sync(): Promise<void> {
    if (!this.config.dir || this.segments.length === 0) return Promise.resolve();
    if (this.syncing) return this.syncing.then(() => this.sync());
    for (const s of this.segments.slice(0, -1)) s.flush();
    const seg = this.segments[this.segments.length - 1]!;
    const fd = seg.fileDescriptor;
    if (fd === null || !seg.needsFlush) return Promise.resolve();
    seg.markFlushed();
    this.syncing = new Promise<void>((resolve) => {
      fdatasync(fd, () => {
        this.syncing = null;
        resolve();
      });
    });
    return this.syncing;
  }

  /** Synchronous fsync of every segment with unsynced writes (the interval policy and close). */
  flush(): void {
    for (const s of this.segments) s.flush();
  }

  close(): void {
    for (const s of this.segments) s.close();
    this.notify();
  }

  deleteFiles(): void {
    for (const s of this.segments) s.delete();
    this.segments = [];
    this.notify();
  }
}
