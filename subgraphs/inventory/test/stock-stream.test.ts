import { describe, expect, it } from 'vitest';
import { liveWithRefresh } from '../src/stock-stream.js';

type Msg = { productId: string };

function harness() {
  let push: ((m: Msg) => void) | undefined;
  const listeners = new Set<() => void>();
  const refresh = { productId: 'p1' };
  const stream = liveWithRefresh<Msg>({
    subscribe: async (p) => {
      push = p;
      return () => undefined;
    },
    refresh,
    onLiveResumed: (l) => {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
  });
  return { stream, refresh, push: (m: Msg) => push!(m), liveResumed: () => listeners.forEach((l) => l()), listeners };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('liveWithRefresh', () => {
  it('passes live messages through, and pushes one refresh when the channel is back after a drop', async () => {
    const h = harness();
    const first = h.stream.next();
    await tick();
    h.push({ productId: 'p1' });
    expect((await first).value).toEqual({ productId: 'p1' });
    h.liveResumed();
    h.liveResumed(); // a second one while the first is still waiting adds nothing: the state is read when taken
    h.push({ productId: 'p1' });
    expect((await h.stream.next()).value).toBe(h.refresh);
    const live = (await h.stream.next()).value;
    expect(live).toEqual({ productId: 'p1' });
    expect(live).not.toBe(h.refresh);
    const more = await Promise.race([h.stream.next().then(() => 'pushed'), new Promise((r) => setTimeout(() => r('nothing'), 20))]);
    expect(more).toBe('nothing');
  });

  it('stops listening for reconnections when the subscription ends', async () => {
    const h = harness();
    const pending = h.stream.next();
    await tick();
    expect(h.listeners.size).toBe(1);
    await h.stream.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(h.listeners.size).toBe(0);
  });
});
