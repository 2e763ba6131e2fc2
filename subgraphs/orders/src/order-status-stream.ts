import { setTimeout as sleep } from 'node:timers/promises';

/** History reads a catch-up tries before it ends the stream with the error (the client resumes with `after`). */
const CATCH_UP_ATTEMPTS = 5;

/**
 * Replay-then-live with no gap and no duplicate: subscribe to the live channel FIRST, then read the
 * stored history, emit what comes after `after`, then live items, dropping any sequence already
 * emitted. A live item that skips ahead (another replica published out of order) triggers a history
 * read to fill the hole. When the live channel comes back after a drop, nothing says a change was
 * missed (the last one of an order has no successor to reveal the hole), so the history after the
 * last emitted sequence is read again and emitted before any later live item. A sequence is emitted
 * once even if the history is rewritten with the same sequences (Redis lost its last writes and the
 * saga wrote them again). A hand-written iterator (not an async generator) so `return()` ends a
 * subscription at once even while it waits for the next change.
 */
export function replayThenLive<T>(opts: {
  /** Starts the live subscription; resolves once it is active, with its unsubscribe function. */
  subscribe: (push: (item: T) => void) => Promise<() => void>;
  /** The stored history, in sequence order. */
  history: () => Promise<readonly T[]>;
  sequenceOf: (item: T) => number;
  /** Emit only items with a sequence greater than this (null: everything). */
  after: number | null;
  /**
   * Registers `listener` for when the live channel is subscribed again after a drop (what was published
   * meanwhile is lost); returns its unregister function.
   */
  onLiveResumed?: (listener: () => void) => () => void;
  /** Called when the stream ends (client gone, error). */
  onClose?: () => void;
}): AsyncIterableIterator<T> {
  let last = opts.after ?? 0;
  let done = false;
  let unsubscribe: (() => void) | undefined;
  let stopCatchUps: (() => void) | undefined;
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  const ready: T[] = [];
  const waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  let started: Promise<void> | undefined;

  const emit = (item: T) => {
    if (done) return;
    const next = waiting.shift();
    if (next) next.resolve({ value: item, done: false });
    else ready.push(item);
  };

  const accept = async (item: T) => {
    const seq = opts.sequenceOf(item);
    if (seq <= last) return;
    if (seq > last + 1) {
      for (const h of await opts.history()) {
        const s = opts.sequenceOf(h);
        if (s > last && s < seq) {
          emit(h);
          last = s;
        }
      }
    }
    if (seq <= last) return;
    emit(item);
    last = seq;
  };

  /** Emits, in order, what the history holds after the last emitted sequence. */
  const catchUp = async () => {
    for (let attempt = 1; !done; attempt++) {
      let history: readonly T[];
      try {
        history = await opts.history();
      } catch (err) {
        if (attempt >= CATCH_UP_ATTEMPTS) throw err;
        await sleep(100 * 2 ** attempt);
        continue;
      }
      for (const h of history) {
        const s = opts.sequenceOf(h);
        if (s <= last) continue;
        emit(h);
        last = s;
      }
      return;
    }
  };

  const enqueue = (fn: () => Promise<void>) => {
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
    opts.onClose?.();
  };

  const start = () =>
    (started ??= (async () => {
      const liveBuffer: T[] = [];
      let backfilled = false;
      unsubscribe = await opts.subscribe((item) => {
        if (!backfilled) liveBuffer.push(item);
        else enqueue(() => accept(item));
      });
      if (done) unsubscribe();
      enqueue(async () => {
        for (const h of await opts.history()) await accept(h);
        backfilled = true;
        for (const item of liveBuffer.splice(0)) await accept(item);
      });
      // A catch-up is queued behind what came before it, and ahead of the live items published after it.
      if (!done) stopCatchUps = opts.onLiveResumed?.(() => enqueue(catchUp));
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
