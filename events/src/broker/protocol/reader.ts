/**
 * Cursor over a request body. Every read is bounds-checked by Buffer itself (RangeError), and the
 * connection turns any throw while decoding into "close this connection", so a malformed frame can
 * never reach broker state.
 */
export class Reader {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  int8(): number {
    const v = this.buf.readInt8(this.offset);
    this.offset += 1;
    return v;
  }
  bool(): boolean {
    return this.int8() !== 0;
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  /** Offsets and timestamps fit in 2^53 in practice; a number keeps the hot path free of bigint. */
  int64(): number {
    const v = Number(this.buf.readBigInt64BE(this.offset));
    this.offset += 8;
    return v;
  }
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.buf.readUInt8(this.offset++);
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
    throw new RangeError('varint too long');
  }
  varint(): number {
    const v = this.uvarint();
    return (v >>> 1) ^ -(v & 1);
  }
  varlong(): number {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.buf.readUInt8(this.offset++);
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return Number((result >> 1n) ^ -(result & 1n));
      shift += 7n;
    }
    throw new RangeError('varlong too long');
  }

  private take(len: number): Buffer {
    if (len < 0 || this.offset + len > this.buf.length) throw new RangeError('field exceeds frame');
    const out = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return out;
  }
  raw(len: number): Buffer {
    return this.take(len);
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw new RangeError('null where a string is required');
    return s;
  }
  nullableString(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    return this.take(len).toString('utf8');
  }
  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0);
  }
  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len < 0) return null;
    return this.take(len);
  }
  array<T>(item: (r: Reader) => T): T[] {
    return this.nullableArray(item) ?? [];
  }
  nullableArray<T>(item: (r: Reader) => T): T[] | null {
    const n = this.int32();
    if (n < 0) return null;
    // Each element takes at least one byte, so a count beyond that is a lie and would allocate wildly.
    if (n > this.remaining) throw new RangeError('array count exceeds frame');
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }

  compactString(): string {
    const s = this.compactNullableString();
    if (s === null) throw new RangeError('null where a string is required');
    return s;
  }
  compactNullableString(): string | null {
    const len = this.uvarint() - 1;
    if (len < 0) return null;
    return this.take(len).toString('utf8');
  }
  compactArray<T>(item: (r: Reader) => T): T[] {
    const n = this.uvarint() - 1;
    if (n < 0) return [];
    if (n > this.remaining) throw new RangeError('array count exceeds frame');
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }
  /** Flexible versions carry optional tagged fields; none are understood yet, so they are skipped. */
  taggedFields(): void {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) {
      this.uvarint();
      this.take(this.uvarint());
    }
  }
}
