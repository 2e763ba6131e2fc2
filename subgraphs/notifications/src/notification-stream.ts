import { createPushStream, readForCatchUp } from '@shop/service-kit';

/**
 * Live notifications that repair what pub/sub dropped. Notifications have no sequence, only a stored,
 * per-customer index, so a stream remembers the ids that were already stored when it began (read right
 * after subscribing) and the ids it pushed; when the live channel comes back after a drop, it pushes the
 * stored ones that are in neither set, oldest first, before any later live one. Every id is pushed at
 * most once, also when a notification is recorded and published again (Redis lost it and the consumer
 * replayed its event).
 */
export function liveWithCatchUp<T>(opts: {
  /** Starts the live subscription; resolves once it is active, with its unsubscribe function. */
  subscribe: (push: (item: T) => void) => Promise<() => void>;
  /** Ids of what is stored now (within the window `recent` reads): never pushed by a catch-up. */
  existing: () => Promise<readonly string[]>;
  /** What is stored within that window, oldest first. */
  recent: () => Promise<readonly T[]>;
  idOf: (item: T) => string;
  /** Registers `listener` for when the live channel is subscribed again after a drop; returns its unregister function. */
  onLiveResumed: (listener: () => void) => () => void;
}): AsyncIterableIterator<T> {
  return createPushStream<T>(async (stream) => {
    const pushed = new Set<string>();
    const existing = new Set<string>();
    const push = (item: T) => {
      const id = opts.idOf(item);
      if (stream.ended || pushed.has(id)) return;
      pushed.add(id);
      stream.push(item);
    };
    const catchUp = async () => {
      const items = await readForCatchUp(opts.recent, () => stream.ended);
      for (const item of items ?? []) if (!existing.has(opts.idOf(item))) push(item);
    };
    stream.onEnd(await opts.subscribe((item) => stream.enqueue(() => push(item))));
    if (stream.ended) return;
    // Read after subscribing: whatever is stored later is either pushed live or found by a catch-up.
    for (const id of await opts.existing()) existing.add(id);
    if (!stream.ended) stream.onEnd(opts.onLiveResumed(() => stream.enqueue(catchUp)));
  });
}
