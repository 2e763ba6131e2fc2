import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import type { ChannelPubSub } from './channel-pubsub.js';
import { SHARDED_SUBSCRIBERS_READY } from './redis.js';

/**
 * Redis pub/sub is fire-and-forget: whatever is published while the subscriber connection is down (Redis
 * restarting or crashed, a network cut) is never delivered to it. ioredis subscribes again on its own when
 * the connection is back; this tells the streams that keep a stored history that their channels are live
 * again, so they read what they missed.
 */
export interface PubSubReconnects {
  /** Calls `listener` after every reconnection of the subscriber (not the first connection); returns the unregister function. */
  onResubscribed(listener: () => void): () => void;
}

/**
 * Watches the pub/sub's subscriber connection(s). The listeners run only once every channel is known to be
 * subscribed again, so a history read started from a listener cannot miss a change published after it. On
 * one node that is when the server answered a PING sent after ioredis's own re-SUBSCRIBE commands on the same
 * connection.
 */
export function watchPubSubReconnects(pubsub: ChannelPubSub, logger: Logger): PubSubReconnects & { close(): void } {
  const listeners = new Set<() => void>();
  const { subscriber } = pubsub;
  if (subscriber instanceof Cluster) return watchShardedSubscriber(subscriber, pubsub, listeners, logger);
  let dropped = false;
  const onClose = () => {
    dropped = true;
  };
  const onReady = () => {
    if (!dropped) return;
    dropped = false;
    subscriber.ping().then(
      () => notify(listeners, logger),
      // Dropped again before answering: the next `ready` tries again.
      (err: unknown) => logger.debug({ err: (err as Error).message }, 'pub/sub connection dropped again while re-subscribing'),
    );
  };
  subscriber.on('close', onClose);
  subscriber.on('ready', onReady);
  return {
    onResubscribed: register(listeners),
    close() {
      subscriber.off('close', onClose);
      subscriber.off('ready', onReady);
      listeners.clear();
    },
  };
}

const register = (listeners: Set<() => void>) => (listener: () => void) => {
  listeners.add(listener);
  return () => void listeners.delete(listener);
};

function notify(listeners: Set<() => void>, logger: Logger): void {
  logger.info({ streams: listeners.size }, 'pub/sub connection back: streams read what they missed');
  for (const listener of [...listeners]) {
    try {
      listener();
    } catch (err) {
      logger.warn({ err }, 'a pub/sub reconnection listener failed');
    }
  }
}

/**
 * On a Redis Cluster (sharded pub/sub) ioredis keeps one subscriber connection per master and, whenever the
 * topology or one of those connections changes (a master failed over, a connection dropped), replaces what
 * changed and sends the channels' `SSUBSCRIBE`s again, then emits `subscribersReady`; it does not say when
 * those were confirmed. Once the events have settled, the channels are subscribed once more here and the
 * streams told only when every one is confirmed. While a master is down ioredis retries its connection in a
 * loop (an event every few tens of milliseconds, then with a backoff): the settling wait keeps that from
 * costing a round of `SSUBSCRIBE`s each time, and a round that fails (the master still down) is tried again
 * after the next event.
 *
 * ioredis remembers a channel once per `SSUBSCRIBE` (and forgets all of them at `SUNSUBSCRIBE`), so each
 * confirmation adds one more copy of every channel in use until it is unsubscribed; subscriptions are
 * short-lived and failovers rare, so this stays small.
 */
function watchShardedSubscriber(subscriber: Cluster, pubsub: ChannelPubSub, listeners: Set<() => void>, logger: Logger): PubSubReconnects & { close(): void } {
  let settling: NodeJS.Timeout | undefined;
  const confirm = () => {
    settling = undefined;
    withTimeout(pubsub.confirmSubscriptions(), CONFIRM_TIMEOUT_MS).then(
      () => notify(listeners, logger),
      (err: unknown) => logger.debug({ err: (err as Error).message }, 'sharded subscriptions not confirmed yet; the next topology refresh tries again'),
    );
  };
  const onSubscribersReady = () => {
    clearTimeout(settling);
    settling = setTimeout(confirm, SETTLE_MS);
  };
  subscriber.on(SHARDED_SUBSCRIBERS_READY, onSubscribersReady);
  return {
    onResubscribed: register(listeners),
    close() {
      clearTimeout(settling);
      subscriber.off(SHARDED_SUBSCRIBERS_READY, onSubscribersReady);
      listeners.clear();
    },
  };
}

/** Quiet time after the last `subscribersReady` before the subscriptions are confirmed. */
const SETTLE_MS = 300;
/** How long confirming the subscriptions may take before this attempt counts as failed. */
const CONFIRM_TIMEOUT_MS = 5_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not confirmed within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
