import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

/**
 * Runs `fn` until it succeeds, logging a clear line while the dependency is not up yet, so services
 * can start in any order. Gives up (rethrows) after `timeoutMs` (default: never) or when aborted.
 */
export async function retryUntilReady<T>(
  what: string,
  fn: () => Promise<T>,
  opts: { logger: Logger; timeoutMs?: number; maxDelayMs?: number; signal?: AbortSignal },
): Promise<T> {
  const started = Date.now();
  const maxDelayMs = opts.maxDelayMs ?? 2_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const elapsed = Date.now() - started;
      if (opts.signal?.aborted || (opts.timeoutMs !== undefined && elapsed >= opts.timeoutMs)) throw err;
      if (attempt === 1 || attempt % 10 === 0) {
        opts.logger.warn({ attempt, err: (err as Error).message }, `${what} not reachable yet, retrying`);
      }
      await sleep(Math.min(100 * 2 ** Math.min(attempt, 5), maxDelayMs));
    }
  }
}
