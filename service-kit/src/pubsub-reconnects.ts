import type { Redis } from 'ioredis';
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
  let dropped = false;
  const onClose = () => {
    dropped = true;
  };
  const onReady = () => {
    if (!dropped) return;
    dropped = false;
    subscriber.ping().then(
      () => {
        logger.info({ streams: listeners.size }, 'pub/sub connection back: streams read what they missed');
        for (const listener of [...listeners]) {
          try {
            listener();
          } catch (err) {
            logger.warn({ err }, 'a pub/sub reconnection listener failed');
          }
        }
      },
      // Dropped again before answering: the next `ready` tries again.
      (err: unknown) => logger.debug({ err: (err as Error).message }, 'pub/sub connection dropped again while re-subscribing'),
    );
  };
  subscriber.on('close', onClose);
  subscriber.on('ready', onReady);
  return {
    onResubscribed(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    close() {
      subscriber.off('close', onClose);
      subscriber.off('ready', onReady);
      listeners.clear();
    },
  };
}
