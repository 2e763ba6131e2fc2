/**
 * One segment of a partition log: a run of stored record batches starting at `baseOffset`, kept
 * either in memory or in an append-only file `<20-digit base offset>.log`. The batches are the bytes
 * producers sent (with baseOffset patched), so the file format is exactly Kafka's .log format and
 * a fetch is a plain read of a contiguous byte range.
 *
 * The index (batch offsets, file positions, timestamps) lives in memory and is rebuilt by scanning
 * the file on open; that scan is also where a torn tail from a crash is cut off.
 *
 * A file segment also keeps the batches it appended last in memory (up to `TAIL_BYTES`): consumers
 * keeping up read only the log's tail, and serving it from memory spares every such fetch a read
 * system call and a buffer to fill (Kafka leaves this to the page cache, which costs a system call
 * per read all the same).
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { checkBatch, readBatchHeader, type BatchInfo } from '../protocol/record-batch.js';

/** Bytes of recently appended batches a file segment keeps in memory. */
export const TAIL_BYTES = 256 * 1024;

export function segmentFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, '0')}.log`;
}

export class Segment {
  size = 0;
  maxTimestamp = -1;
  /** Per batch: first offset, last offset, byte position, byte size, max timestamp. */
  readonly firstOffsets: number[] = [];
  readonly lastOffsets: number[] = [];
  readonly positions: number[] = [];
  readonly sizes: number[] = [];
  readonly maxTimestamps: number[] = [];
  /** In memory: every batch. In a file: null (see `tail`). */
  private readonly chunks: Buffer[] | null;
  /** In a file: the last batches appended in this run, from batch index `tailFrom` on. */
  private tail: Buffer[] = [];
  private tailFrom = 0;
  private tailBytes = 0;
  private dirty = false;

  private constructor(
    readonly baseOffset: number,
    private fd: number | null,
    readonly path: string | null,
  ) {
    this.chunks = fd === null ? [] : null;
  }

  static inMemory(baseOffset: number): Segment {
    return new Segment(baseOffset, null, null);
  }

  static create(dir: string, baseOffset: number): Segment {
    const path = join(dir, segmentFileName(baseOffset));
    return new Segment(baseOffset, openSync(path, 'a+'), path);
  }

  /**
   * Opens an existing file and indexes it. Everything from the first batch that is incomplete or
   * fails its CRC is cut off: after a kill -9 only the tail can be torn (appends are sequential),
   * and Kafka's own recovery does the same.
   */
  static recover(dir: string, baseOffset: number, onBatch: (info: BatchInfo, offset: number) => void): {
    segment: Segment;
    truncatedBytes: number;
  } {
    const path = join(dir, segmentFileName(baseOffset));
    const data = readFileSync(path);
    const seg = new Segment(baseOffset, openSync(path, 'a+'), path);
    let at = 0;
    while (at < data.length) {
      const size = checkBatch(data, at);
      if (typeof size !== 'number') break;
      const info = readBatchHeader(data, at);
      const first = Number(data.readBigInt64BE(at));
      seg.index(first, first + info.lastOffsetDelta, size, info.maxTimestamp);
      onBatch(info, first);
      at += size;
    }
    const truncatedBytes = data.length - at;
    if (truncatedBytes > 0) {
      ftruncateSync(seg.fd!, at);
      fsyncSync(seg.fd!);
    }
    return { segment: seg, truncatedBytes };
  }

  get batchCount(): number {
    return this.firstOffsets.length;
  }
  get lastOffset(): number {
    return this.lastOffsets.length ? this.lastOffsets[this.lastOffsets.length - 1]! : this.baseOffset - 1;
  }

  private index(first: number, last: number, size: number, maxTs: number): void {
    this.firstOffsets.push(first);
    this.lastOffsets.push(last);
    this.positions.push(this.size);
    this.sizes.push(size);
    this.maxTimestamps.push(maxTs);
    this.size += size;
    if (maxTs > this.maxTimestamp) this.maxTimestamp = maxTs;
  }

  /**
   * Appends batches whose offsets are already patched. The write is synchronous on purpose: it only
   * reaches the page cache (microseconds), it keeps appends trivially ordered, and once it returns the
   * data survives a kill -9 of this process, which is the point at which produce is acknowledged.
   */
  append(batches: { bytes: Buffer; first: number; last: number; maxTimestamp: number }[]): void {
    if (this.fd !== null) {
      const bufs = batches.map((b) => b.bytes);
      const all = bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
      let written = 0;
      try {
        while (written < all.length) written += writeSync(this.fd, all, written, all.length - written);
      } catch (err) {
        // A partial write (e.g. disk full) must not stay in the file: the index positions assume
        // the file ends where the last indexed batch ends.
        if (written > 0) ftruncateSync(this.fd, this.size);
        throw err;
      }
      this.dirty = true;
    }
    for (const b of batches) {
      if (this.chunks) this.chunks.push(b.bytes);
      else this.keepInTail(b.bytes);
      this.index(b.first, b.last, b.bytes.length, b.maxTimestamp);
    }
  }

  private keepInTail(bytes: Buffer): void {
    if (this.tail.length === 0) this.tailFrom = this.firstOffsets.length;
    this.tail.push(bytes);
    this.tailBytes += bytes.length;
    while (this.tailBytes > TAIL_BYTES && this.tail.length > 0) {
      this.tailBytes -= this.tail.shift()!.length;
      this.tailFrom++;
    }
  }

  /** Drops the in-memory tail (the segment is no longer the one appended to). */
  releaseTail(): void {
    this.tail = [];
    this.tailFrom = this.firstOffsets.length;
    this.tailBytes = 0;
  }

  /** Index of the batch containing `offset` (or the first one after it), or -1 if none. */
  findBatch(offset: number): number {
    let lo = 0;
    let hi = this.lastOffsets.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.lastOffsets[mid]! >= offset) {
        found = mid;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    return found;
  }

  /** Index after the last batch `read(from, maxBytes, atLeastOne)` returns. */
  private spanEnd(from: number, maxBytes: number, atLeastOne: boolean): number {
    let to = from;
    let bytes = 0;
    while (to < this.sizes.length) {
      const s = this.sizes[to]!;
      if (bytes + s > maxBytes && !(atLeastOne && to === from)) break;
      bytes += s;
      to++;
    }
    return to;
  }

  /** How many bytes `read` would return, without reading them (batches are contiguous). */
  readableBytes(from: number, maxBytes: number, atLeastOne: boolean): number {
    const to = this.spanEnd(from, maxBytes, atLeastOne);
    return to === from ? 0 : this.positions[to - 1]! + this.sizes[to - 1]! - this.positions[from]!;
  }

  /** Batches from index `from` up to `maxBytes` total (at least one when `atLeastOne`). */
  read(from: number, maxBytes: number, atLeastOne: boolean): Buffer[] {
    const to = this.spanEnd(from, maxBytes, atLeastOne);
    if (to === from) return [];
    if (this.chunks) return this.chunks.slice(from, to);
    if (from >= this.tailFrom && to - this.tailFrom <= this.tail.length) return this.tail.slice(from - this.tailFrom, to - this.tailFrom);
    const start = this.positions[from]!;
    const bytes = this.positions[to - 1]! + this.sizes[to - 1]! - start;
    const buf = Buffer.allocUnsafe(bytes);
    let got = 0;
    while (got < bytes) {
      const n = readSync(this.fd!, buf, got, bytes - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return [buf.subarray(0, got)];
  }

  /** Reads the single batch at index i (for timestamp lookups that must decode records). */
  readBatch(i: number): Buffer {
    return this.read(i, 0, true)[0]!;
  }

  /** fsync if anything was written since the last one; returns whether it did. */
  flush(): boolean {
    if (this.fd === null || !this.dirty) return false;
    this.dirty = false;
    fsyncSync(this.fd);
    return true;
  }

  get needsFlush(): boolean {
    return this.dirty;
  }
  get fileDescriptor(): number | null {
    return this.fd;
  }
  markFlushed(): void {
    this.dirty = false;
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }

  delete(): void {
    const path = this.path;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    if (path) rmSync(path, { force: true });
  }
}
