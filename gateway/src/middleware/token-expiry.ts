/** How often expiries are looked at; a socket or stream ends at most this long after its token's `exp`. */
const TICK_MS = 250;

const tickOf = (atMs: number) => Math.ceil(atMs / TICK_MS);

/** What a token opened, as the watch sees it. */
export interface Expiring {
  /** The token has expired: end what it opened. */
  expire(): void;
}

/**
 * Ends what a token opened (a WebSocket, a multipart stream) when the token expires. One timer
 * for every watch instead of one per socket (10,000 sockets would mean 10,000 timers): watches are
 * kept by the tick they fall due in, in a min-heap of those ticks. A watch is the watched object
 * itself, with no closure or wrapper made for it: each socket keeps its watch for its whole life.
 */
export class TokenExpiry {
  readonly #due = new Map<number, Set<Expiring>>();
  readonly #ticks: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The tick the timer is set for. */
  #armedTick = Infinity;

  /**
   * Calls `target.expire()` once `expiresAtMs` has passed (at once if it has). Watching the same
   * target twice for the same time is one watch.
   */
  watch(expiresAtMs: number, target: Expiring): void {
    if (expiresAtMs <= Date.now()) {
      target.expire();
      return;
    }
    const tick = tickOf(expiresAtMs);
    let set = this.#due.get(tick);
    if (!set) {
      this.#due.set(tick, (set = new Set()));
      this.#push(tick);
    }
    set.add(target);
    this.#arm();
  }

  /** Cancels a watch (`expiresAtMs` as it was watched); nothing when it has fired or was never made. */
  unwatch(expiresAtMs: number, target: Expiring): void {
    // An emptied tick stays in the heap until it falls due: the timer then finds nothing to call.
    this.#due.get(tickOf(expiresAtMs))?.delete(target);
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
      for (const target of set ?? []) target.expire();
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
