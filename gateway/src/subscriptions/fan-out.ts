import type { ExecutionResult } from 'graphql';
import { GraphQLError } from '../graphql.js';
import { ErrorCode } from '@shop/service-kit';

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

/** Subscribers written to between two turns of the event loop. */
const PUBLISH_SLICE = 1_000;

/** A subscriber's place in its group, as `attach` hands it back. */
export interface Membership {
  /** Leaves the group (idempotent); the last one out releases the upstream subscription. */
  leave(): void;
}

/** Where one subscriber's events go. Both calls must not throw. */
export interface Subscriber {
  /** `shared`: the same event goes to other subscribers in the same pass (each socket gets one message of it). */
  deliver(event: ResolvedEvent, shared?: boolean): void;
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
  readonly #onPublished: ((subscribers: number, seconds: number) => void) | undefined;

  /**
   * `onEnd` runs once the group has ended (upstream error or completion) and taken no one new;
   * `onPublished` after each event was written to every subscriber, with how long that took.
   */
  constructor(historyLimit: number, onEnd: () => void = () => undefined, onPublished?: (subscribers: number, seconds: number) => void) {
    this.#historyLimit = historyLimit;
    this.#onEnd = onEnd;
    this.#onPublished = onPublished;
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
          errors: [err instanceof GraphQLError ? err : new GraphQLError(err instanceof Error ? err.message : String(err), { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } })],
        }),
      );
      if (this.#ended) return;
      if (result) await this.#publish(new ResolvedEvent(result));
      if (last) this.#end();
    });
  }

  /**
   * Writes the event to every subscriber, yielding to the event loop every `PUBLISH_SLICE` of them:
   * 10,000 sockets take the better part of 200 ms, which must not stall every other request.
   * Subscribers that join meanwhile get the event from the history instead (and those that leave
   * are skipped), so nobody gets it twice.
   */
  async #publish(event: ResolvedEvent): Promise<void> {
    if (this.#historyLimit > 0) {
      this.#history.push(event);
      if (this.#history.length > this.#historyLimit) this.#history.shift();
    }
    const started = process.hrtime.bigint();
    const targets = [...this.#subscribers];
    const shared = targets.length > 1;
    for (let i = 0; i < targets.length; i++) {
      const subscriber = targets[i]!;
      if (this.#subscribers.has(subscriber)) subscriber.deliver(event, shared);
      if ((i + 1) % PUBLISH_SLICE === 0 && i + 1 < targets.length) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#onPublished?.(targets.length, Number(process.hrtime.bigint() - started) / 1e9);
  }

  #end(): void {
    this.#ended = true;
    this.#onEnd();
    const subscribers = [...this.#subscribers];
    this.#subscribers.clear();
    for (const subscriber of subscribers) subscriber.end();
  }
}
