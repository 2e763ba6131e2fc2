import { setTimeout as sleep } from 'node:timers/promises';

/** What a push stream's producer side can do (see `createPushStream`). */
export interface PushStream<T> {
  /** Hands `item` to the consumer, at once if it waits, else queued (dropped once the stream has ended). */
  push(item: T): void;
  /** Whether `item` is queued and not yet taken. */
  isPending(item: T): boolean;
  /** Runs `fn` after every step enqueued before it; a step that fails ends the stream with its error. */
  enqueue(fn: () => Promise<void> | void): void;
  /** Runs `fn` when the stream ends (at once if it has). */
  onEnd(fn: () => void): void;
  readonly ended: boolean;
}

/**
 * A subscription's event stream fed by pushes (pub/sub messages, history reads): `start` runs on the first
 * `next()` and wires the sources to the stream. A hand-written iterator, not an async generator, so
 * `return()` ends it at once even while it waits for the next item, and runs what `onEnd` registered.
 */
export function createPushStream<T>(start: (stream: PushStream<T>) => Promise<void> | void): AsyncIterableIterator<T> {
  let ended = false;
  let failed: { error: unknown } | undefined;
  let started: Promise<void> | undefined;
  let chain: Promise<void> = Promise.resolve();
  const ready: T[] = [];
  const waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  const cleanups: (() => void)[] = [];

  const end = () => {
    if (ended) return;
    ended = true;
    for (const cleanup of cleanups.splice(0)) cleanup();
    for (const w of waiting.splice(0)) w.resolve({ value: undefined, done: true });
  };

  const stream: PushStream<T> = {
    push(item) {
      if (ended) return;
      const next = waiting.shift();
      if (next) next.resolve({ value: item, done: false });
      else ready.push(item);
    },
    isPending: (item) => ready.includes(item),
    enqueue(fn) {
      chain = chain.then(fn).catch((error: unknown) => {
        failed = { error };
        for (const w of waiting.splice(0)) w.reject(error);
      });
    },
    onEnd(fn) {
      if (ended) fn();
      else cleanups.push(fn);
    },
    get ended() {
      return ended;
    },
  };

  const iterator: AsyncIterableIterator<T> = {
    async next() {
      await (started ??= Promise.resolve(start(stream)));
      if (failed) throw failed.error;
      const item = ready.shift();
      if (item !== undefined) return { value: item, done: false };
      if (ended) return { value: undefined, done: true };
      return new Promise<IteratorResult<T>>((resolve, reject) => waiting.push({ resolve, reject }));
    },
    async return() {
      end();
      return { value: undefined, done: true };
    },
    async throw(err?: unknown) {
      end();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** Reads a catch-up tries (100 ms, 200 ms, … apart) before it gives up with the error. */
const CATCH_UP_ATTEMPTS = 5;

/**
 * `read` retried a few times (a Redis that just came back may still refuse for a moment); resolves with
 * undefined when `stopped()` says the stream ended meanwhile.
 */
export async function readForCatchUp<R>(read: () => Promise<R>, stopped: () => boolean): Promise<R | undefined> {
  for (let attempt = 1; !stopped(); attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt >= CATCH_UP_ATTEMPTS) throw err;
      await sleep(100 * 2 ** attempt);
    }
  }
  return undefined;
}
