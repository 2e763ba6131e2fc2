import { Cluster } from 'ioredis';
import type { RedisClient as Redis } from '@shop/events';
import type { Logger } from 'pino';

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
 * Watches the subscriber connection. The listeners run only once the server has answered a PING sent
 * after ioredis's own re-SUBSCRIBE commands on the same connection, so every channel is subscribed again
 * by then: a history read started from a listener cannot miss a change published after it.
 */
export function watchPubSubReconnects(subscriber: Redis, logger: Logger): PubSubReconnects & { close(): void } {
  const listeners = new Set<() => void>();
  if (subscriber instanceof Cluster) return watchClusterSubscriber(subscriber, listeners, logger);
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
 * On a Redis Cluster the client keeps its subscriptions on one node it picks, and when that node goes away
 * it subscribes again on another without telling anyone. What it does say is when a node left the cluster's
 * topology (`-node`, after a failover or a node dropping out): by then the subscriptions have moved (the
 * dead node's connection ended first), so the streams read what they missed, once the client answers a
 * command again. A drop of the subscriber node that changes no topology is not seen (the node came back
 * within the node timeout).
 */
function watchClusterSubscriber(subscriber: Cluster, listeners: Set<() => void>, logger: Logger): PubSubReconnects & { close(): void } {
  const onNodeLeft = () => {
    subscriber.ping().then(
      () => notify(listeners, logger),
      (err: unknown) => logger.debug({ err: (err as Error).message }, 'cluster not answering yet after a node left'),
    );
  };
  subscriber.on('-node', onNodeLeft);
  return {
    onResubscribed: register(listeners),
    close() {
      subscriber.off('-node', onNodeLeft);
      listeners.clear();
    },
  };
}
