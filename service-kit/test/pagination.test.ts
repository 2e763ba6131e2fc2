import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, pageSize } from '../src/pagination.js';

describe('cursors', () => {
  it('round-trip and are tied to their list', () => {
    const c = encodeCursor('order', '000001700000000:ord_abc');
    expect(decodeCursor('order', c)).toBe('000001700000000:ord_abc');
    expect(decodeCursor('order', null)).toBeNull();
    expect(() => decodeCursor('product', c)).toThrow(/malformed cursor/);
    expect(() => decodeCursor('order', 'not a cursor!')).toThrow(/malformed cursor/);
    expect(() => decodeCursor('order', encodeCursor('order', ''))).toThrow(/malformed cursor/);
  });
  it('pageSize bounds first', () => {
    expect(pageSize(undefined, 20)).toBe(20);
    expect(pageSize(100, 20)).toBe(100);
    expect(() => pageSize(0, 20)).toThrow(/between 1 and 100/);
    expect(() => pageSize(101, 20)).toThrow(/between 1 and 100/);
  });
});
