/** Exponential backoff: `initialMs`, doubled per attempt, capped at `maxMs` (attempt 1 → initialMs). */
export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(initialMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)), maxMs);
}

/** Thrown by `sleep` when its signal aborts: the consumer is closing, stop retrying. */
export class AbortedError extends Error {
  constructor() {
    super('aborted: the consumer is closing');
    this.name = 'AbortedError';
  }
}

/** Resolves after `ms`, or rejects with `AbortedError` as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortedError());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
