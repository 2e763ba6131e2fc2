import { describe, expect, it } from 'vitest';
import { neverSent, ReplicaSet } from './replicas.js';
import { sendWithFailover } from './subgraph-client.js';

const A = 'http://127.0.0.1:1/graphql';
const B = 'http://127.0.0.1:2/graphql';
const C = 'http://127.0.0.1:3/graphql';

const connectError = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const socketError = () => Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
const ok = { status: 200, text: '{"data":{}}' };

describe('a replica set', () => {
  it('takes turns among replicas equally loaded', () => {
    const set = new ReplicaSet([A, B, C]);
    expect(Array.from({ length: 6 }, () => set.pick())).toEqual([A, B, C, A, B, C]);
  });

  it('takes turns for fetches and for subscriptions apart, so neither use skews the other', () => {
    const set = new ReplicaSet([A, B]);
    const picks = Array.from({ length: 4 }, () => [set.pick(undefined, 'subscription'), set.pick()]);
    expect(picks).toEqual([
      [A, A],
      [B, B],
      [A, A],
      [B, B],
    ]);
  });

  it('prefers the replica with the fewest calls in flight', () => {
    const set = new ReplicaSet([A, B]);
    const endA = set.begin(A);
    set.begin(A);
    expect([set.pick(), set.pick()]).toEqual([B, B]);
    endA();
    endA(); // ending twice counts once
    set.begin(B);
    set.begin(B);
    expect(set.pick()).toBe(A);
  });

  it('skips replicas down until a health check finds them up, and reports every change', () => {
    const changes: string[] = [];
    const set = new ReplicaSet([A, B], { onChange: (url, up) => changes.push(`${url === A ? 'A' : 'B'}:${up ? 'up' : 'down'}`) });
    set.markDown(A);
    set.markDown(A);
    expect([set.pick(), set.pick(), set.pick()]).toEqual([B, B, B]);
    expect(set.isUp(A)).toBe(false);
    set.report(A, true);
    expect(new Set([set.pick(), set.pick()])).toEqual(new Set([A, B]));
    expect(changes).toEqual(['A:up', 'B:up', 'A:down', 'A:up']);
  });

  it('gives the replica down longest a last try when all are down, and none when that one is excluded', () => {
    let now = 1_000;
    const set = new ReplicaSet([A, B], { now: () => now });
    set.markDown(B);
    now = 2_000;
    set.markDown(A);
    expect(set.anyUp).toBe(false);
    expect(set.pick()).toBe(B);
    expect(set.pick(B)).toBe(A);
    const single = new ReplicaSet([A]);
    single.markDown(A);
    expect(single.pick()).toBe(A);
    expect(single.pick(A)).toBeUndefined();
  });

  it('refuses an empty list and folds duplicates', () => {
    expect(() => new ReplicaSet([])).toThrow(/at least one/);
    expect(new ReplicaSet([A, A, B]).urls).toEqual([A, B]);
  });
});

describe('neverSent', () => {
  it('tells a connection never made from one lost after sending', () => {
    expect(neverSent(connectError())).toBe(true);
    expect(neverSent(new Error('wrapped', { cause: { code: 'UND_ERR_CONNECT_TIMEOUT' } }))).toBe(true);
    expect(neverSent(socketError())).toBe(false);
    expect(neverSent(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(false);
    expect(neverSent(undefined)).toBe(false);
  });
});

describe('sendWithFailover', () => {
  /** A sender whose answers per replica are scripted; records where each attempt went. */
  function script(answers: Record<string, () => Promise<{ status: number; text: string }>>) {
    const sent: string[] = [];
    return { sent, sendTo: (url: string) => (sent.push(url), answers[url]!()) };
  }
  const failovers: string[] = [];
  const onFailover = (url: string) => failovers.push(url);

  it('sends a query that failed to connect to another replica, marking the first down', async () => {
    const set = new ReplicaSet([A, B]);
    const { sent, sendTo } = script({ [A]: () => Promise.reject(connectError()), [B]: () => Promise.resolve(ok) });
    await expect(sendWithFailover(set, sendTo, true, onFailover)).resolves.toEqual(ok);
    expect(sent).toEqual([A, B]);
    expect(set.isUp(A)).toBe(false);
  });

  it('sends a mutation again only when it never left: never one that may have reached the replica', async () => {
    const refused = new ReplicaSet([A, B]);
    const first = script({ [A]: () => Promise.reject(connectError()), [B]: () => Promise.resolve(ok) });
    await expect(sendWithFailover(refused, first.sendTo, false, onFailover)).resolves.toEqual(ok);
    expect(first.sent).toEqual([A, B]);

    const lost = new ReplicaSet([A, B]);
    const second = script({ [A]: () => Promise.reject(socketError()), [B]: () => Promise.resolve(ok) });
    await expect(sendWithFailover(lost, second.sendTo, false, onFailover)).rejects.toThrow(/other side closed/);
    expect(second.sent).toEqual([A]);
    expect(lost.isUp(A)).toBe(false);
    // The next call goes to the other replica.
    expect(lost.pick()).toBe(B);
  });

  it('tries a query once more on an "unavailable" status without a GraphQL body; a GraphQL answer is the answer', async () => {
    const set = new ReplicaSet([A, B]);
    const unavailable = script({ [A]: () => Promise.resolve({ status: 503, text: 'no' }), [B]: () => Promise.resolve(ok) });
    await expect(sendWithFailover(set, unavailable.sendTo, true, onFailover)).resolves.toEqual(ok);
    expect(unavailable.sent).toEqual([A, B]);

    const graphqlError = { status: 503, text: '{"errors":[{"message":"busy"}]}' };
    const fresh = new ReplicaSet([A, B]);
    const answered = script({ [A]: () => Promise.resolve(graphqlError), [B]: () => Promise.resolve(ok) });
    await expect(sendWithFailover(fresh, answered.sendTo, true, onFailover)).resolves.toEqual(graphqlError);
    expect(answered.sent).toEqual([A]);
    expect(fresh.isUp(A)).toBe(true);
  });

  it('retries at most once, and not at all with one replica', async () => {
    const set = new ReplicaSet([A, B, C]);
    const { sent, sendTo } = script({ [A]: () => Promise.reject(connectError()), [B]: () => Promise.reject(connectError()), [C]: () => Promise.resolve(ok) });
    await expect(sendWithFailover(set, sendTo, true, onFailover)).rejects.toThrow(/ECONNREFUSED/);
    expect(sent).toEqual([A, B]);

    const single = script({ [A]: () => Promise.reject(connectError()) });
    await expect(sendWithFailover(new ReplicaSet([A]), single.sendTo, true, onFailover)).rejects.toThrow(/ECONNREFUSED/);
    expect(single.sent).toEqual([A]);
  });
});
