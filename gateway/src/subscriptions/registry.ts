import type { GraphQLFormattedError } from 'graphql';

/** What a shared source pushes to everyone listening. */
export interface SharedListener<E> {
  next(event: E): void;
  /** The source failed for good (after its own retries); the listener is dropped. */
  error(errors: readonly GraphQLFormattedError[]): void;
  /** The source ended normally; the listener is dropped. */
  complete(): void;
}

/** The producing side handed to `start`: one call per event to every current listener. */
export type SharedEmitter<E> = SharedListener<E>;

export interface SharedSource {
  close(): void;
}

interface Entry<E> {
  readonly listeners: Set<SharedListener<E>>;
  /** Events kept for late joiners (resumable streams only, bounded). */
  readonly replay: E[];
  readonly replayLimit: number;
  source: SharedSource | undefined;
  done: boolean;
}

export interface AcquireOptions<E> {
  /** Starts the shared source; called once for the first listener of a key. */
  readonly start: (emit: SharedEmitter<E>) => SharedSource;
  /**
   * Keep up to this many events and replay them to listeners that join later, so a stream that
   * replays history on subscribe (orderStatusChanged) looks the same to the 1st and the 50th client.
   */
  readonly replayLimit?: number;
}

/**
 * Ref-counted sharing of upstream subscriptions: one source per key however many listeners; the
 * source is closed when the last listener leaves, and a failed or finished source is forgotten so
 * the next listener starts a fresh one.
 */
export class SubscriptionRegistry<E> {
  readonly #entries = new Map<string, Entry<E>>();

  /** Number of live shared sources (what leaks would show up in). */
  get size(): number {
    return this.#entries.size;
  }

  /** Adds `listener` to the source of `key`, starting it if needed; returns the function that leaves. */
  acquire(key: string, listener: SharedListener<E>, options: AcquireOptions<E>): () => void {
    let entry = this.#entries.get(key);
    if (entry) {
      for (const event of entry.replay) listener.next(event);
      entry.listeners.add(listener);
    } else {
      const created: Entry<E> = { listeners: new Set([listener]), replay: [], replayLimit: options.replayLimit ?? 0, source: undefined, done: false };
      entry = created;
      this.#entries.set(key, created);
      const finish = () => {
        created.done = true;
        if (this.#entries.get(key) === created) this.#entries.delete(key);
        const listeners = [...created.listeners];
        created.listeners.clear();
        return listeners;
      };
      const emit: SharedEmitter<E> = {
        next: (event) => {
          if (created.done) return;
          if (created.replayLimit > 0) {
            created.replay.push(event);
            if (created.replay.length > created.replayLimit) created.replay.shift();
          }
          for (const l of [...created.listeners]) l.next(event);
        },
        error: (errors) => {
          if (created.done) return;
          for (const l of finish()) l.error(errors);
        },
        complete: () => {
          if (created.done) return;
          for (const l of finish()) l.complete();
        },
      };
      try {
        const source = options.start(emit);
        if (created.done) source.close();
        else created.source = source;
      } catch (err) {
        finish();
        throw err;
      }
    }
    const joined = entry;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      joined.listeners.delete(listener);
      if (joined.listeners.size === 0 && !joined.done) {
        joined.done = true;
        if (this.#entries.get(key) === joined) this.#entries.delete(key);
        joined.source?.close();
      }
    };
  }

  /** Closes every source (shutdown); their listeners get `complete`. */
  closeAll(): void {
    for (const [key, entry] of [...this.#entries]) {
      this.#entries.delete(key);
      entry.done = true;
      entry.source?.close();
      const listeners = [...entry.listeners];
      entry.listeners.clear();
      for (const l of listeners) l.complete();
    }
  }
}
