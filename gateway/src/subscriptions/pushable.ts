/**
 * An async iterator fed by pushes. Unlike an async generator, `return()` takes effect at once even
 * while a consumer waits in `next()`, so a client leaving never waits for the next upstream event
 * to release its upstream subscription.
 */
export class Pushable<T> implements AsyncIterableIterator<T> {
  readonly #buffer: T[] = [];
  readonly #waiting: Array<(r: IteratorResult<T>) => void> = [];
  #onReturn: (() => void) | undefined;
  #ended = false;

  /** `onReturn` runs once, when the iterator ends or is returned; see also `onEnd`. */
  constructor(onReturn?: () => void) {
    this.#onReturn = onReturn;
  }

  /** Sets what runs when the iterator ends; at once if it already has. */
  onEnd(fn: () => void): void {
    if (this.#ended) fn();
    else this.#onReturn = fn;
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(value: T): void {
    if (this.#ended) return;
    const waiter = this.#waiting.shift();
    if (waiter) waiter({ value, done: false });
    else this.#buffer.push(value);
  }

  /** Ends after the buffered values are consumed. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const onReturn = this.#onReturn;
    this.#onReturn = undefined;
    onReturn?.();
    if (this.#buffer.length === 0) for (const w of this.#waiting.splice(0)) w({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    const value = this.#buffer.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.#buffer.length = 0;
    this.end();
    for (const w of this.#waiting.splice(0)) w({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
