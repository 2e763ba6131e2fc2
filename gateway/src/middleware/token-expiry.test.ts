import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenExpiry } from './token-expiry.js';

describe('token expiry', () => {
  afterEach(() => vi.useRealTimers());

  it('calls each watch once its time has come, in order, and not the cancelled ones', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const expiry = new TokenExpiry();
    const fired: string[] = [];
    const target = (name: string) => ({ expire: () => fired.push(name) });
    expiry.watch(1_003_000, target('c'));
    expiry.watch(1_001_000, target('a'));
    const b = target('b');
    expiry.watch(1_002_000, b);
    // Watched later but due earlier than the timer already set: the timer is brought forward.
    expiry.watch(1_000_500, target('first'));
    expiry.unwatch(1_002_000, b);
    vi.advanceTimersByTime(600);
    expect(fired).toEqual(['first']);
    vi.advanceTimersByTime(2_500);
    expect(fired).toEqual(['first', 'a', 'c']);
    expiry.close();
  });

  it('calls at once for a time already past', () => {
    const expiry = new TokenExpiry();
    let fired = false;
    expiry.watch(Date.now() - 1, { expire: () => (fired = true) });
    expect(fired).toBe(true);
    expiry.close();
  });

  it('keeps two targets due in the same tick apart, and one target watched twice fires once', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const expiry = new TokenExpiry();
    const fired: string[] = [];
    const x = { expire: () => fired.push('x') };
    const y = { expire: () => fired.push('y') };
    expiry.watch(1_001_000, x);
    expiry.watch(1_001_000, x);
    expiry.watch(1_001_100, y);
    expiry.unwatch(1_001_100, x);
    vi.advanceTimersByTime(1_500);
    expect(fired).toEqual(['x', 'y']);
    expiry.close();
  });
});
