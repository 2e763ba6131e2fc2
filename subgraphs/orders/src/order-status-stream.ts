import { createPushStream, readForCatchUp } from '@shop/service-kit';

/**
 * Replay-then-live with no gap and no duplicate: subscribe to the live channel FIRST, then read the
 * stored history, emit what comes after `after`, then live items, dropping any sequence already
 * emitted. A live item that skips ahead (another replica published out of order) triggers a history
 * read to fill the hole. When the live channel comes back after a drop, nothing says a change was
 * missed (the last one of an order has no successor to reveal the hole), so the history after the
 * last emitted sequence is read again and emitted before any later live item. A sequence is emitted
 * once even if the history is rewritten with the same sequences (Redis lost its last writes and the
 * saga wrote them again). A catch-up that keeps failing ends the stream with the error (the client
 * resumes with `after`).
 */
export function replayThenLive<T>(opts: {
  /** Starts the live subscription; resolves once it is active, with its unsubscribe function. */
  subscribe: (push: (item: T) => void) => Promise<() => void>;
  /** The stored history, in sequence order. */
  history: () => Promise<readonly T[]>;
  sequenceOf: (item: T) => number;
  /** Emit only items with a sequence greater than this (null: everything). */
  after: number | null;
  /**
   * Registers `listener` for when the live channel is subscribed again after a drop (what was published
   * meanwhile is lost); returns its unregister function.
   */
  onLiveResumed?: (listener: () => void) => () => void;
  /** Called when the stream ends (client gone, error). */
  onClose?: () => void;
}): AsyncIterableIterator<T> {
  return createPushStream<T>(async (stream) => {
    let last = opts.after ?? 0;
    if (opts.onClose) stream.onEnd(opts.onClose);
    /** Pushes `item` if it is past the last pushed sequence. */
    const pushNext = (item: T) => {
      const seq = opts.sequenceOf(item);
      if (seq <= last) return;
      stream.push(item);
      last = seq;
    };
    const accept = async (item: T) => {
      const seq = opts.sequenceOf(item);
      if (seq <= last) return;
      // Skipped ahead: fill the hole from the history first.
      if (seq > last + 1) for (const h of await opts.history()) if (opts.sequenceOf(h) < seq) pushNext(h);
      pushNext(item);
    };
    /** Pushes, in order, what the history holds after the last pushed sequence. */
    const catchUp = async () => {
      for (const h of (await readForCatchUp(opts.history, () => stream.ended)) ?? []) pushNext(h);
    };

    const liveBuffer: T[] = [];
    let backfilled = false;
    stream.onEnd(
      await opts.subscribe((item) => {
        if (!backfilled) liveBuffer.push(item);
        else stream.enqueue(() => accept(item));
      }),
    );
    stream.enqueue(async () => {
      for (const h of await opts.history()) await accept(h);
      backfilled = true;
      for (const item of liveBuffer.splice(0)) await accept(item);
    });
    // A catch-up is queued behind what came before it, and ahead of the live items published after it.
    if (!stream.ended && opts.onLiveResumed) stream.onEnd(opts.onLiveResumed(() => stream.enqueue(catchUp)));
  });
}
