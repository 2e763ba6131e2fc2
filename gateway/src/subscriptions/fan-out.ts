import type { ExecutionResult } from 'graphql';
import { GraphQLError } from '../graphql.js';

/**
 * One result of an upstream event for one client operation. It is serialized at most once however
 * many subscribers receive it: with 10,000 subscribers on one order, a per-subscriber
 * `JSON.stringify` was most of the cost of a fan-out.
 */
export class ResolvedEvent {
  #json: Buffer | undefined;

  constructor(readonly result: ExecutionResult) {}

  /** The result as graphql-ws and multipart send it: `data`, then `errors` only when there are some. */
  get json(): Buffer {
    if (!this.#json) {
      const { errors, ...rest } = this.result;
      this.#json = Buffer.from(JSON.stringify(errors?.length ? { ...rest, errors } : rest));
    }
    return this.#json;
  }
}

/** Where one subscriber's events go. Both calls must not throw. */
export interface Subscriber {
  deliver(event: ResolvedEvent): void;
  /** No more events (after the last `deliver`). */
  end(): void;
}

/**
 * The subscribers of one upstream subscription that asked the same operation: each event is
 * resolved once for all of them, and delivered to each in event order even when a later event
 * resolves first.
 */
export class FanOutGroup {
  readonly #subscribers = new Set<Subscriber>();
  /** Delivered events, replayed to late joiners (resumable streams only). */
  readonly #history: ResolvedEvent[] = [];
  readonly #historyLimit: number;
  #chain: Promise<void> = Promise.resolve();
  #ended = false;
  readonly #onEnd: () => void;

  /** `onEnd` runs once the group has ended (upstream error or completion) and taken no one new. */
  constructor(historyLimit: number, onEnd: () => void = () => undefined) {
    this.#historyLimit = historyLimit;
    this.#onEnd = onEnd;
  }

  get size(): number {
    return this.#subscribers.size;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Adds a subscriber; it first gets what the group already delivered. */
  join(subscriber: Subscriber): void {
    for (const event of this.#history) subscriber.deliver(event);
    if (this.#ended) subscriber.end();
    else this.#subscribers.add(subscriber);
  }

  /** Removes a subscriber; returns whether the group is now empty. */
  leave(subscriber: Subscriber): boolean {
    this.#subscribers.delete(subscriber);
    return this.#subscribers.size === 0;
  }

  /** Queues a result (resolving concurrently with the ones before it); `last` ends the group after it. */
  enqueue(pending: Promise<ExecutionResult | undefined>, last = false): void {
    this.#chain = this.#chain.then(async () => {
      const result = await pending.catch(
        (err: unknown): ExecutionResult => ({
          errors: [err instanceof GraphQLError ? err : new GraphQLError(err instanceof Error ? err.message : String(err), { extensions: { code: 'INTERNAL_SERVER_ERROR' } })],
        }),
      );
      if (this.#ended) return;
      if (result) this.#publish(new ResolvedEvent(result));
      if (last) this.#end();
    });
  }

  #publish(event: ResolvedEvent): void {
    if (this.#historyLimit > 0) {
      this.#history.push(event);
      if (this.#history.length > this.#historyLimit) this.#history.shift();
    }
    for (const subscriber of this.#subscribers) subscriber.deliver(event);
  }

  #end(): void {
    this.#ended = true;
    this.#onEnd();
    const subscribers = [...this.#subscribers];
    this.#subscribers.clear();
    for (const subscriber of subscribers) subscriber.end();
  }
}
