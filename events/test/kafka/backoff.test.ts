import { describe, expect, it } from 'vitest';
import { AbortedError, backoffDelayMs, sleep } from '../../src/kafka/backoff.js';
import { EventContractError, EventError, isRetriable } from '../../src/errors.js';

describe('retry policy', () => {
  it('backs off 100 ms, doubling, capped at 5 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 100].map((a) => backoffDelayMs(a, 100, 5_000))).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
  });

  it('an aborted sleep rejects at once', async () => {
    const ac = new AbortController();
    const started = Date.now();
    const slept = sleep(10_000, ac.signal);
    ac.abort();
    await expect(slept).rejects.toBeInstanceOf(AbortedError);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('decides retry from `retriable` alone', () => {
    expect(isRetriable(new EventError('redis down', { retriable: true }))).toBe(true);
    expect(isRetriable(new EventError('bug'))).toBe(false);
    expect(isRetriable(new EventContractError('bad'))).toBe(false);
    expect(isRetriable(Object.assign(new Error('kafkajs-like'), { retriable: true }))).toBe(true);
    expect(isRetriable(new Error('plain'))).toBe(false);
    expect(isRetriable('string')).toBe(false);
  });
});
