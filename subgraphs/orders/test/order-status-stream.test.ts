import { describe, expect, it } from 'vitest';
import { replayThenLive } from '../src/order-status-stream.js';

type Change = { sequence: number };
const seq = (...n: number[]) => n.map((sequence) => ({ sequence }));

/** A fake channel: `push` delivers live items to the subscriber once subscribed. */
function harness(history: Change[], opts: { duringHistory?: Change[]; failingReads?: number } = {}) {
  let push: ((c: Change) => void) | undefined;
  let unsubscribed = false;
  let failingReads = opts.failingReads ?? 0;
  const resumeListeners = new Set<() => void>();
  const order: string[] = [];
  const stream = (after: number | null) =>
    replayThenLive<Change>({
      subscribe: async (p) => {
        order.push('subscribe');
        push = p;
        return () => {
          unsubscribed = true;
        };
      },
      history: async () => {
        order.push('history');
        if (failingReads > 0 && order.filter((o) => o === 'history').length > 1) {
          failingReads--;
          throw new Error('Connection is closed.');
        }
        // Changes published while the history is read arrive live too (the race the merge handles).
        for (const c of opts.duringHistory ?? []) push!(c);
        return [...history];
      },
      sequenceOf: (c) => c.sequence,
      after,
      onLiveResumed: (listener) => {
        resumeListeners.add(listener);
        return () => void resumeListeners.delete(listener);
      },
    });
  return {
    stream,
    push: (c: Change) => push!(c),
    order,
    unsubscribed: () => unsubscribed,
    /** The live channel is back after a drop. */
    liveResumed: () => resumeListeners.forEach((l) => l()),
    resumeListeners,
  };
}

async function take(it: AsyncIterator<Change>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await it.next()).value.sequence);
  return out;
}

describe('replayThenLive', () => {
  it('given history 1..3, when subscribing with after=null, then it subscribes first and emits 1..3, then live ones', async () => {
    const h = harness(seq(1, 2, 3));
    const it = h.stream(null);
    expect(await take(it, 3)).toEqual([1, 2, 3]);
    expect(h.order).toEqual(['subscribe', 'history']);
    h.push({ sequence: 4 });
    expect(await take(it, 1)).toEqual([4]);
  });

  it('replays only after `after`', async () => {
    const it = harness(seq(1, 2, 3, 4)).stream(2);
    expect(await take(it, 2)).toEqual([3, 4]);
  });

  it('drops a live duplicate of a change that was also in the history (no duplicate)', async () => {
    const h = harness(seq(1, 2, 3), { duringHistory: seq(3) });
    const it = h.stream(null);
    expect(await take(it, 3)).toEqual([1, 2, 3]);
    h.push({ sequence: 3 });
    h.push({ sequence: 4 });
    expect(await take(it, 1)).toEqual([4]);
  });

  it('a change published after the subscription but before the history read is not lost (no gap)', async () => {
    const h = harness(seq(1, 2), { duringHistory: seq(3) });
    expect(await take(h.stream(null), 3)).toEqual([1, 2, 3]);
  });

  it('fills a hole from the history when a live change skips ahead', async () => {
    const history = seq(1);
    const h = harness(history);
    const it = h.stream(null);
    expect(await take(it, 1)).toEqual([1]);
    history.push({ sequence: 2 }, { sequence: 3 });
    h.push({ sequence: 3 });
    expect(await take(it, 2)).toEqual([2, 3]);
  });

  it('return() ends a waiting subscription at once and unsubscribes', async () => {
    const h = harness(seq(1));
    const it = h.stream(1);
    const pending = it.next();
    await new Promise((r) => setTimeout(r, 10));
    await it.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(h.unsubscribed()).toBe(true);
  });

  describe('when the live channel comes back after a drop', () => {
    it('emits, in order, the changes published while it was down, then live ones', async () => {
      const history = seq(1, 2);
      const h = harness(history);
      const it = h.stream(null);
      expect(await take(it, 2)).toEqual([1, 2]);
      // 3 and 4 (the final status: nothing after it would reveal the hole) were published during the drop.
      history.push({ sequence: 3 }, { sequence: 4 });
      h.liveResumed();
      h.push({ sequence: 5 });
      expect(await take(it, 3)).toEqual([3, 4, 5]);
    });

    it('emits nothing twice: a live change that also arrived, and a history rewritten with the same sequences', async () => {
      const history = seq(1, 2, 3);
      const h = harness(history);
      const it = h.stream(null);
      expect(await take(it, 3)).toEqual([1, 2, 3]);
      // Redis lost 3 and the saga wrote it again with another timestamp; 4 arrived live as well.
      history.splice(2, 1, { sequence: 3 }, { sequence: 4 });
      h.push({ sequence: 4 });
      h.liveResumed();
      h.liveResumed();
      h.push({ sequence: 4 });
      h.push({ sequence: 5 });
      expect(await take(it, 2)).toEqual([4, 5]);
      const pending = it.next();
      const outcome = await Promise.race([pending.then(() => 'emitted'), new Promise((r) => setTimeout(() => r('waiting'), 20))]);
      expect(outcome).toBe('waiting');
      await it.return!();
    });

    it('emits nothing from a history that lost entries already emitted, and goes on when they are written again', async () => {
      const history = seq(1, 2, 3);
      const h = harness(history);
      const it = h.stream(null);
      expect(await take(it, 3)).toEqual([1, 2, 3]);
      history.splice(2); // Redis came back without 3
      h.liveResumed();
      history.push({ sequence: 3 }, { sequence: 4 });
      h.push({ sequence: 3 });
      h.push({ sequence: 4 });
      expect(await take(it, 1)).toEqual([4]);
    });

    it('retries a history read that fails while Redis is still coming back', async () => {
      const history = seq(1);
      const h = harness(history, { failingReads: 2 });
      const it = h.stream(null);
      expect(await take(it, 1)).toEqual([1]);
      history.push({ sequence: 2 });
      h.liveResumed();
      expect(await take(it, 1)).toEqual([2]);
      expect(h.order.filter((o) => o === 'history')).toHaveLength(4);
    });

    it('stops listening for reconnections when the subscription ends', async () => {
      const h = harness(seq(1));
      const it = h.stream(null);
      expect(await take(it, 1)).toEqual([1]);
      expect(h.resumeListeners.size).toBe(1);
      await it.return!();
      expect(h.resumeListeners.size).toBe(0);
    });
  });
});
