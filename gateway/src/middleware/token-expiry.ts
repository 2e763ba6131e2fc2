/** How often expiries are looked at; a socket or stream ends at most this long after its token's `exp`. */
const TICK_MS = 250;

/**
 * Ends what a token opened (a WebSocket, a multipart stream) when the token expires. One timer
 * for every watch instead of one per socket (10,000 sockets would mean 10,000 timers): watches are
 * kept by the tick they fall due in, in a min-heap of those ticks.
 */
export class TokenExpiry {
  readonly #due = new Map<number, Set<() => void>>();
  readonly #ticks: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The tick the timer is set for. */
  #armedTick = Infinity;

  /** Calls `onExpire` once `expiresAtMs` has passed (at once if it has); returns the cancel function. */
  watch(expiresAtMs: number, onExpire: () => void): () => void {
    if (expiresAtMs <= Date.now()) {
      onExpire();
      return () => undefined;
    }
    const tick = Math.ceil(expiresAtMs / TICK_MS);
    let set = this.#due.get(tick);
    if (!set) {
      this.#due.set(tick, (set = new Set()));
      this.#push(tick);
    }
    // A wrapper per watch, so the same callback watched twice is two watches.
    const entry = () => onExpire();
    set.add(entry);
    this.#arm();
    return () => {
      set.delete(entry);
    };
  }

  /** Stops the timer (shutdown); pending watches never fire. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedTick = Infinity;
    this.#due.clear();
    this.#ticks.length = 0;
  }

  /** Sets the timer for the earliest tick, unless it is set for that one already. */
  #arm(): void {
    const next = this.#ticks[0];
    if (next === undefined || (this.#timer && this.#armedTick <= next)) return;
    clearTimeout(this.#timer);
    this.#armedTick = next;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, next * TICK_MS - Date.now()));
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedTick = Infinity;
    const now = Date.now();
    while (this.#ticks.length > 0 && this.#ticks[0]! * TICK_MS <= now) {
      const tick = this.#pop();
      const set = this.#due.get(tick);
      this.#due.delete(tick);
      for (const onExpire of set ?? []) onExpire();
    }
    this.#arm();
  }

  #push(tick: number): void {
    const heap = this.#ticks;
    heap.push(tick);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= heap[i]!) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  #pop(): number {
    const heap = this.#ticks;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l]! < heap[m]!) m = l;
        if (r < heap.length && heap[r]! < heap[m]!) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    return top;
  }
}
