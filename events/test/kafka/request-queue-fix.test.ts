import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fixKafkajsIdleTimer } from '../../src/kafka/request-queue-fix.js';

const require = createRequire(import.meta.url);
const RequestQueue = require(require.resolve('kafkajs/src/network/requestQueue/index.js')) as new (opts: Record<string, unknown>) => {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
};
const logger = { debug: () => undefined, warn: () => undefined, error: () => undefined, info: () => undefined };
const queue = () => new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 1_000, enforceRequestTimeout: true, clientId: 't', broker: 'b', logger });

describe('kafkajs request queue idle timer (kafkajs#1556)', () => {
  afterEach(() => vi.useRealTimers());

  it('schedules nothing when nothing is pending, so an idle connection has no 1 ms timer loop', () => {
    fixKafkajsIdleTimer();
    vi.useFakeTimers();
    const q = queue();
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('still checks waiting requests: after the throttle ends, or soon when not throttled', () => {
    fixKafkajsIdleTimer();
    vi.useFakeTimers();
    const q = queue();
    const check = vi.spyOn(q, 'checkPendingRequests').mockImplementation(() => undefined);
    q.pending.push({});
    q.throttledUntil = Date.now() + 50;
    q.scheduleCheckPendingRequests();
    q.scheduleCheckPendingRequests(); // one timer, not two
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(49);
    expect(check).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(check).toHaveBeenCalledTimes(1);
    expect(q.throttleCheckTimeoutId).toBeNull();

    q.throttledUntil = -1;
    q.scheduleCheckPendingRequests();
    vi.advanceTimersByTime(10);
    expect(check).toHaveBeenCalledTimes(2);
  });
});
