import { describe, expect, it } from 'vitest';
import { liveWithCatchUp } from '../src/notification-stream.js';

type Note = { id: string };
const notes = (...ids: string[]) => ids.map((id) => ({ id }));

/** A fake channel and store: `push` delivers live, `stored` is what the index holds. */
function harness(stored: Note[], opts: { failingReads?: number } = {}) {
  let push: ((n: Note) => void) | undefined;
  let failingReads = opts.failingReads ?? 0;
  let reads = 0;
  const listeners = new Set<() => void>();
  const stream = liveWithCatchUp<Note>({
    subscribe: async (p) => {
      push = p;
      return () => undefined;
    },
    existing: async () => stored.map((n) => n.id),
    recent: async () => {
      reads++;
      if (failingReads > 0) {
        failingReads--;
        throw new Error('Connection is closed.');
      }
      return [...stored];
    },
    idOf: (n) => n.id,
    onLiveResumed: (l) => {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
  });
  return {
    stream,
    push: (n: Note) => push!(n),
    liveResumed: () => listeners.forEach((l) => l()),
    listeners,
    reads: () => reads,
  };
}

async function take(it: AsyncIterator<Note>, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await it.next()).value.id);
  return out;
}

async function nothingMore(it: AsyncIterator<Note>): Promise<boolean> {
  const next = it.next();
  return (await Promise.race([next.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 20))])) === true;
}

describe('liveWithCatchUp', () => {
  it('pushes live notifications, and none stored before it began', async () => {
    const h = harness(notes('old'));
    const it = h.stream;
    const first = it.next();
    await new Promise((r) => setTimeout(r, 5));
    h.push({ id: 'a' });
    expect((await first).value).toEqual({ id: 'a' });
    h.liveResumed();
    expect(await nothingMore(it)).toBe(true);
  });

  it('after a drop, pushes the stored ones it missed, oldest first, then live ones, each once', async () => {
    const stored = notes('old');
    const h = harness(stored);
    const it = h.stream;
    const first = it.next();
    await new Promise((r) => setTimeout(r, 5));
    h.push({ id: 'a' });
    expect((await first).value.id).toBe('a');
    // b and c were recorded (and published) while the channel was down; a was pushed already.
    stored.push({ id: 'a' }, { id: 'b' }, { id: 'c' });
    h.liveResumed();
    h.push({ id: 'c' }); // published again (the consumer replayed its event): not twice
    h.push({ id: 'd' });
    expect(await take(it, 3)).toEqual(['b', 'c', 'd']);
    expect(await nothingMore(it)).toBe(true);
  });

  it('retries a store read that fails while Redis is still coming back', async () => {
    const stored: Note[] = [];
    const h = harness(stored, { failingReads: 2 });
    const it = h.stream;
    const first = it.next();
    await new Promise((r) => setTimeout(r, 5));
    stored.push({ id: 'missed' });
    h.liveResumed();
    expect((await first).value.id).toBe('missed');
    expect(h.reads()).toBe(3);
  });

  it('stops listening for reconnections when the subscription ends', async () => {
    const h = harness([]);
    const pending = h.stream.next();
    await new Promise((r) => setTimeout(r, 5));
    expect(h.listeners.size).toBe(1);
    await h.stream.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(h.listeners.size).toBe(0);
  });
});
