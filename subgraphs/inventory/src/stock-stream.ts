import { createPushStream } from '@shop/service-kit';

/**
 * stockChanged pushes state, not events: a message only names the product and the resolver reads the
 * stock as it is then, so it has no sequence to repair from and needs none. A message pub/sub dropped
 * would leave the client showing a stale stock until the next change; when the live channel is back
 * after a drop, `refresh` is pushed so the client gets the stock as it is now.
 */
export function liveWithRefresh<T>(opts: {
  /** Starts the live subscription; resolves once it is active, with its unsubscribe function. */
  subscribe: (push: (item: T) => void) => Promise<() => void>;
  /** The message that makes the resolver read the current state. */
  refresh: T;
  /** Registers `listener` for when the live channel is subscribed again after a drop; returns its unregister function. */
  onLiveResumed: (listener: () => void) => () => void;
}): AsyncIterableIterator<T> {
  return createPushStream<T>(async (stream) => {
    const push = (item: T) => {
      // One pending refresh is enough: the resolver reads the state when it is taken.
      if (item !== opts.refresh || !stream.isPending(item)) stream.push(item);
    };
    stream.onEnd(await opts.subscribe(push));
    if (!stream.ended) stream.onEnd(opts.onLiveResumed(() => push(opts.refresh)));
  });
}
