import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenExpiry } from './token-expiry.js';

describe('token expiry', () => {
  afterEach(() => vi.useRealTimers());

  it('calls each watch once its time has come, in order, and not the cancelled ones', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const expiry = new TokenExpiry();
    const fired: string[] = [];
    expiry.watch(1_003_000, () => fired.push('c'));
    expiry.watch(1_001_000, () => fired.push('a'));
    const cancel = expiry.watch(1_002_000, () => fired.push('b'));
    // Watched later but due earlier than the timer already set: the timer is brought forward.
    expiry.watch(1_000_500, () => fired.push('first'));
    cancel();
    vi.advanceTimersByTime(600);
    expect(fired).toEqual(['first']);
    vi.advanceTimersByTime(2_500);
    expect(fired).toEqual(['first', 'a', 'c']);
    expiry.close();
  });

  it('calls at once for a time already past', () => {
    const expiry = new TokenExpiry();
    let fired = false;
    expiry.watch(Date.now() - 1, () => (fired = true));
    expect(fired).toBe(true);
    expiry.close();
  });
});
