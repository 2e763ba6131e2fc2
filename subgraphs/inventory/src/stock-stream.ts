/**
 * stockChanged pushes state, not events: a message only names the product and the resolver reads the
 * stock as it is then, so it has no sequence to repair from and needs none. A message pub/sub dropped
 * would leave the client showing a stale stock until the next change; when the live channel is back
 * after a drop, `refresh` is pushed so the client gets the stock as it is now. A hand-written iterator,
 * so `return()` ends it at once even while it waits.
 */
export function liveWithRefresh<T>(opts: {
  /** Starts the live subscription; resolves once it is active, with its unsubscribe function. */
  subscribe: (push: (item: T) => void) => Promise<() => void>;
  /** The message that makes the resolver read the current state. */
  refresh: T;
  /** Registers `listener` for when the live channel is subscribed again after a drop; returns its unregister function. */
  onLiveResumed: (listener: () => void) => () => void;
}): AsyncIterableIterator<T> {
  let done = false;
  let unsubscribe: (() => void) | undefined;
  let stopRefreshes: (() => void) | undefined;
  let started: Promise<void> | undefined;
  const ready: T[] = [];
  const waiting: ((r: IteratorResult<T>) => void)[] = [];

  const emit = (item: T) => {
    if (done) return;
    const next = waiting.shift();
    if (next) next({ value: item, done: false });
    // One pending refresh is enough: the resolver reads the state when it is taken.
    else if (item !== opts.refresh || !ready.includes(item)) ready.push(item);
  };

  const finish = () => {
    if (done) return;
    done = true;
    stopRefreshes?.();
    unsubscribe?.();
    for (const w of waiting.splice(0)) w({ value: undefined, done: true });
  };

  const start = () =>
    (started ??= (async () => {
      unsubscribe = await opts.subscribe(emit);
      if (done) return unsubscribe();
      stopRefreshes = opts.onLiveResumed(() => emit(opts.refresh));
    })());

  const iterator: AsyncIterableIterator<T> = {
    async next() {
      await start();
      const item = ready.shift();
      if (item !== undefined) return { value: item, done: false };
      if (done) return { value: undefined, done: true };
      return new Promise<IteratorResult<T>>((resolve) => waiting.push(resolve));
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
