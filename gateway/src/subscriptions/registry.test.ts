import { describe, expect, it, vi } from 'vitest';
import { SubscriptionRegistry, type SharedEmitter, type SharedListener } from './registry.js';

const listener = () => ({ next: vi.fn(), error: vi.fn(), complete: vi.fn() }) satisfies SharedListener<number>;

describe('SubscriptionRegistry', () => {
  it('given many listeners on one key, starts one source, fans out, and closes it when the last leaves', () => {
    const registry = new SubscriptionRegistry<number>();
    const close = vi.fn();
    let emit: SharedEmitter<number> | undefined;
    const start = vi.fn((e: SharedEmitter<number>) => {
      emit = e;
      return { close };
    });
    const ls = Array.from({ length: 50 }, listener);
    const leaves = ls.map((l) => registry.acquire('k', l, { start }));
    expect(start).toHaveBeenCalledTimes(1);
    expect(registry.size).toBe(1);
    emit!.next(7);
    for (const l of ls) expect(l.next).toHaveBeenCalledWith(7);
    leaves.slice(1).forEach((leave) => leave());
    expect(close).not.toHaveBeenCalled();
    leaves[0]!();
    leaves[0]!(); // leaving twice is harmless
    expect(close).toHaveBeenCalledTimes(1);
    expect(registry.size).toBe(0);
  });

  it('keeps different keys apart', () => {
    const registry = new SubscriptionRegistry<number>();
    const start = vi.fn(() => ({ close: vi.fn() }));
    registry.acquire('a', listener(), { start });
    registry.acquire('b', listener(), { start });
    expect(start).toHaveBeenCalledTimes(2);
    expect(registry.size).toBe(2);
  });

  it('replays buffered events to late joiners when asked to', () => {
    const registry = new SubscriptionRegistry<number>();
    let emit: SharedEmitter<number> | undefined;
    registry.acquire('k', listener(), { replayLimit: 10, start: (e) => ((emit = e), { close: vi.fn() }) });
    emit!.next(1);
    emit!.next(2);
    const late = listener();
    registry.acquire('k', late, { replayLimit: 10, start: () => ({ close: vi.fn() }) });
    expect(late.next.mock.calls).toEqual([[1], [2]]);
  });

  it('given a failing source, errors every listener and forgets the key so the next one starts afresh', () => {
    const registry = new SubscriptionRegistry<number>();
    let emit: SharedEmitter<number> | undefined;
    const start = vi.fn((e: SharedEmitter<number>) => ((emit = e), { close: vi.fn() }));
    const a = listener();
    const leave = registry.acquire('k', a, { start });
    emit!.error([{ message: 'gone' }]);
    expect(a.error).toHaveBeenCalledWith([{ message: 'gone' }]);
    expect(registry.size).toBe(0);
    leave();
    registry.acquire('k', listener(), { start });
    expect(start).toHaveBeenCalledTimes(2);
  });

  it('closeAll completes every listener and closes every source', () => {
    const registry = new SubscriptionRegistry<number>();
    const close = vi.fn();
    const a = listener();
    registry.acquire('k', a, { start: () => ({ close }) });
    registry.closeAll();
    expect(close).toHaveBeenCalled();
    expect(a.complete).toHaveBeenCalled();
    expect(registry.size).toBe(0);
  });
});
