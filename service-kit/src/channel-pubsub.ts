import { Cluster } from 'ioredis';
import type { RedisClient as Redis } from '@shop/events';

/**
 * Redis pub/sub for channels that each belong to one aggregate (an order's status changes, a customer's
 * notifications, a product's stock). On one Redis node it is classic `PUBLISH`/`SUBSCRIBE`. On a Redis
 * Cluster it is sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7): a channel lives in the hash slot of its
 * name, so a message goes to the one master of that slot (and its replicas) instead of being forwarded over
 * the cluster bus to every node, and pub/sub grows with the masters. Channel names carry the aggregate's
 * hash tag (`…:{<id>}`), so a channel sits in the slot of its aggregate's keys.
 */
export interface ChannelPubSub {
  /** Whether this runs on sharded pub/sub (a Redis Cluster). */
  readonly sharded: boolean;
  /** The subscriber connection, for watching its reconnections (`watchPubSubReconnects`). */
  readonly subscriber: Redis;
  /** Publishes `payload` as JSON on `channel`. */
  publish(channel: string, payload: unknown): Promise<void>;
  /** Calls `onMessage` with each JSON message on `channel` from now on; resolves with the id to unsubscribe with once Redis confirmed the subscription. */
  subscribe<T>(channel: string, onMessage: (message: T) => void): Promise<number>;
  unsubscribe(subscriptionId: number): void;
  /**
   * Subscribes again to every channel in use and resolves once Redis confirmed each one. After the cluster's
   * topology changed, that proves the subscriptions are live on the masters that own the channels now.
   */
  confirmSubscriptions(): Promise<void>;
  /** Closes the subscriber connection, and the publisher unless it is shared. */
  close(): Promise<void>;
}

export interface ChannelPubSubOptions {
  /**
   * Where messages are published. A service passes its command connection (`sharedPublisher`): a publish then
   * goes out in the same auto-pipelined write as the commands issued beside it (a consumer's batch ends with
   * its checkpoint script and its pushes together), one write and one reply instead of one per connection.
   */
  readonly publisher: Redis;
  /** The publisher belongs to the caller, who closes it; default false (`close` quits it). */
  readonly sharedPublisher?: boolean;
  /** A connection of its own (it enters subscriber mode); on a cluster made with `shardedSubscribers` (see `connectRedis`). */
  readonly subscriber: Redis;
}

export function createChannelPubSub({ publisher, subscriber, sharedPublisher = false }: ChannelPubSubOptions): ChannelPubSub {
  const sharded = subscriber instanceof Cluster;
  const listeners = new Map<string, Map<number, (message: unknown) => void>>();
  const pending = new Map<string, Promise<unknown>>();
  const channelOf = new Map<number, string>();
  let nextId = 0;

  const subscribeCommand = (channels: string[]) => (sharded ? (subscriber as Cluster).ssubscribe(...channels) : subscriber.subscribe(...channels));
  const unsubscribeCommand = (channel: string) => (sharded ? (subscriber as Cluster).sunsubscribe(channel) : subscriber.unsubscribe(channel));

  subscriber.on(sharded ? 'smessage' : 'message', (channel: string, raw: string) => {
    const subs = listeners.get(channel);
    if (!subs?.size) return;
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      // Everything published here is JSON; anything else on the channel is passed on as it came.
      message = raw;
    }
    for (const listener of [...subs.values()]) listener(message);
  });

  const unsubscribe = (id: number) => {
    const channel = channelOf.get(id);
    if (channel === undefined) return;
    channelOf.delete(id);
    const subs = listeners.get(channel);
    subs?.delete(id);
    if (subs && subs.size === 0) {
      listeners.delete(channel);
      // A connection that dropped meanwhile forgets the channel anyway.
      unsubscribeCommand(channel).catch(() => undefined);
    }
  };

  return {
    sharded,
    subscriber,
    async publish(channel, payload) {
      const message = JSON.stringify(payload);
      await (sharded ? (publisher as Cluster).spublish(channel, message) : publisher.publish(channel, message));
    },
    async subscribe<T>(channel: string, onMessage: (message: T) => void) {
      const id = nextId++;
      let subs = listeners.get(channel);
      const first = !subs;
      if (!subs) listeners.set(channel, (subs = new Map()));
      subs.set(id, onMessage as (message: unknown) => void);
      channelOf.set(id, channel);
      if (first) {
        const confirmed = subscribeCommand([channel]).finally(() => pending.delete(channel));
        pending.set(channel, confirmed);
      }
      try {
        await pending.get(channel);
      } catch (err) {
        unsubscribe(id);
        throw err;
      }
      return id;
    },
    unsubscribe,
    async confirmSubscriptions() {
      const channels = [...listeners.keys()];
      // Sharded: one command per channel, since one SSUBSCRIBE may only name channels of one slot.
      await Promise.all(sharded ? channels.map((c) => subscribeCommand([c])) : channels.length ? [subscribeCommand(channels)] : []);
    },
    async close() {
      listeners.clear();
      channelOf.clear();
      await Promise.all([sharedPublisher ? undefined : publisher.quit(), subscriber.quit()]);
    },
  };
}
