import { describe, expect, it } from 'vitest';
import type { ExecutionResult } from 'graphql';
import { FanOutGroup, type ResolvedEvent, type Subscriber } from './fan-out.js';

function recorder() {
  const events: ResolvedEvent[] = [];
  let ended = false;
  const subscriber: Subscriber = {
    deliver: (e) => events.push(e),
    end: () => {
      ended = true;
    },
  };
  return { subscriber, events, ended: () => ended, statuses: () => events.map((e) => (e.result.data as { s?: string } | undefined)?.s ?? 'error') };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const result = (s: string): ExecutionResult => ({ data: { s } });

describe('FanOutGroup', () => {
  it('delivers in event order even when a later event resolves first', async () => {
    const group = new FanOutGroup(0);
    const a = recorder();
    group.join(a.subscriber);
    const first = deferred<ExecutionResult>();
    const second = deferred<ExecutionResult>();
    group.enqueue(first.promise);
    group.enqueue(second.promise);
    second.resolve(result('two'));
    await settle();
    expect(a.statuses()).toEqual([]);
    first.resolve(result('one'));
    await settle();
    expect(a.statuses()).toEqual(['one', 'two']);
  });

  it('serializes each event once for every subscriber', async () => {
    const group = new FanOutGroup(0);
    const a = recorder();
    const b = recorder();
    group.join(a.subscriber);
    group.join(b.subscriber);
    group.enqueue(Promise.resolve(result('one')));
    await settle();
    expect(a.events[0]).toBe(b.events[0]);
    expect(a.events[0]!.json).toBe(b.events[0]!.json);
    expect(JSON.parse(a.events[0]!.json.toString())).toEqual({ data: { s: 'one' } });
  });

  it('replays delivered events to a late joiner, up to its history limit', async () => {
    const group = new FanOutGroup(2);
    const early = recorder();
    group.join(early.subscriber);
    for (const s of ['a', 'b', 'c']) group.enqueue(Promise.resolve(result(s)));
    await settle();
    const late = recorder();
    group.join(late.subscriber);
    expect(late.statuses()).toEqual(['b', 'c']);
    group.enqueue(Promise.resolve(result('d')));
    await settle();
    expect(early.statuses()).toEqual(['a', 'b', 'c', 'd']);
    expect(late.statuses()).toEqual(['b', 'c', 'd']);
  });

  it('turns a failed resolution into an error result without stopping later events', async () => {
    const group = new FanOutGroup(0);
    const a = recorder();
    group.join(a.subscriber);
    group.enqueue(Promise.reject(new Error('inventory is down')));
    group.enqueue(Promise.resolve(result('next')));
    await settle();
    expect(a.events[0]!.result.errors?.[0]?.message).toBe('inventory is down');
    expect(a.events[0]!.result.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(a.statuses()).toEqual(['error', 'next']);
  });

  it('ends every subscriber after the last result, calls onEnd once, and ends late joiners at once', async () => {
    let ends = 0;
    const group = new FanOutGroup(10, () => ends++);
    const a = recorder();
    group.join(a.subscriber);
    group.enqueue(Promise.resolve(result('final')), true);
    group.enqueue(Promise.resolve(result('ignored')));
    await settle();
    expect(a.statuses()).toEqual(['final']);
    expect(a.ended()).toBe(true);
    expect(ends).toBe(1);
    expect(group.ended).toBe(true);
    const late = recorder();
    group.join(late.subscriber);
    expect(late.statuses()).toEqual(['final']);
    expect(late.ended()).toBe(true);
    expect(group.size).toBe(0);
  });

  it('stops delivering to a subscriber that left, and says when the group is empty', async () => {
    const group = new FanOutGroup(0);
    const a = recorder();
    const b = recorder();
    group.join(a.subscriber);
    group.join(b.subscriber);
    expect(group.leave(a.subscriber)).toBe(false);
    group.enqueue(Promise.resolve(result('one')));
    await settle();
    expect(a.events).toHaveLength(0);
    expect(b.statuses()).toEqual(['one']);
    expect(group.leave(b.subscriber)).toBe(true);
  });

  it('writes a large fan-out in slices: joiners meanwhile get the event once, leavers not at all', async () => {
    const published: number[] = [];
    const group = new FanOutGroup(10, undefined, (subscribers) => published.push(subscribers));
    const members = Array.from({ length: 2_500 }, () => recorder());
    for (const m of members) group.join(m.subscriber);
    group.enqueue(Promise.resolve(result('big')));
    // Let the first slice go out, then change the membership mid-publish.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const deliveredSoFar = members.filter((m) => m.events.length === 1).length;
    expect(deliveredSoFar).toBeGreaterThan(0);
    expect(deliveredSoFar).toBeLessThan(members.length);
    const joiner = recorder();
    group.join(joiner.subscriber);
    const leaver = members.at(-1)!;
    group.leave(leaver.subscriber);
    await settle();
    await new Promise((r) => setTimeout(r, 20));
    expect(joiner.statuses()).toEqual(['big']);
    expect(leaver.events).toHaveLength(0);
    expect(members.slice(0, -1).every((m) => m.statuses().join() === 'big')).toBe(true);
    expect(published).toEqual([2_500]);
  });
});
