import { setTimeout as sleep } from 'node:timers/promises';

/** Reads a catch-up tries before it ends the stream with the error. */
const CATCH_UP_ATTEMPTS = 5;

/**
 * Live notifications that repair what pub/sub dropped. Notifications have no sequence, only a stored,
 * per-customer index, so a stream remembers the ids that were already stored when it began (read right
 * after subscribing) and the ids it pushed; when the live channel comes back after a drop, it pushes the
 * stored ones that are in neither set, oldest first, before any later live one. Every id is pushed at
 * most once, also when a notification is recorded and published again (Redis lost it and the consumer
 * replayed its event). A hand-written iterator, so `return()` ends it at once even while it waits.
 */
export function liveWithCatchUp<T>(opts: {
  /** Starts the live subscription; resolves once it is active, with its unsubscribe function. */
  subscribe: (push: (item: T) => void) => Promise<() => void>;
  /** Ids of what is stored now (within the window `recent` reads): never pushed by a catch-up. */
  existing: () => Promise<readonly string[]>;
  /** What is stored within that window, oldest first. */
  recent: () => Promise<readonly T[]>;
  idOf: (item: T) => string;
  /** Registers `listener` for when the live channel is subscribed again after a drop; returns its unregister function. */
  onLiveResumed: (listener: () => void) => () => void;
}): AsyncIterableIterator<T> {
  const pushed = new Set<string>();
  const existing = new Set<string>();
  let done = false;
  let failure: unknown;
  let unsubscribe: (() => void) | undefined;
  let stopCatchUps: (() => void) | undefined;
  let chain: Promise<void> = Promise.resolve();
  let started: Promise<void> | undefined;
  const ready: T[] = [];
  const waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];

  const emit = (item: T) => {
    const id = opts.idOf(item);
    if (done || pushed.has(id)) return;
    pushed.add(id);
    const next = waiting.shift();
    if (next) next.resolve({ value: item, done: false });
    else ready.push(item);
  };

  const catchUp = async () => {
    for (let attempt = 1; !done; attempt++) {
      let items: readonly T[];
      try {
        items = await opts.recent();
      } catch (err) {
        if (attempt >= CATCH_UP_ATTEMPTS) throw err;
        await sleep(100 * 2 ** attempt);
        continue;
      }
      for (const item of items) if (!existing.has(opts.idOf(item))) emit(item);
      return;
    }
  };

  const enqueue = (fn: () => Promise<void> | void) => {
    chain = chain.then(fn).catch((err: unknown) => {
      failure = err;
      for (const w of waiting.splice(0)) w.reject(err);
    });
  };

  const finish = () => {
    if (done) return;
    done = true;
    stopCatchUps?.();
    unsubscribe?.();
    for (const w of waiting.splice(0)) w.resolve({ value: undefined, done: true });
  };

  const start = () =>
    (started ??= (async () => {
      unsubscribe = await opts.subscribe((item) => enqueue(() => emit(item)));
      if (done) return unsubscribe();
      // Read after subscribing: whatever is stored later is either pushed live or found by a catch-up.
      for (const id of await opts.existing()) existing.add(id);
      if (!done) stopCatchUps = opts.onLiveResumed(() => enqueue(catchUp));
    })());

  const iterator: AsyncIterableIterator<T> = {
    async next() {
      await start();
      if (failure) throw failure;
      const item = ready.shift();
      if (item !== undefined) return { value: item, done: false };
      if (done) return { value: undefined, done: true };
      return new Promise<IteratorResult<T>>((resolve, reject) => waiting.push({ resolve, reject }));
    },
    async return() {
      finish();
      return { value: undefined, done: true };
    },
    async throw(err?: unknown) {
      finish();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
