import { describe, expect, it } from 'vitest';
import { ANY_CALLER, InFlight, callerKey, fetchKey, isShareableOperation, operationKey } from './in-flight.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('in-flight sharing', () => {
  it('starts one request per key while it is in flight, and a new one once it settled', async () => {
    const inFlight = new InFlight<string>();
    const sent: string[] = [];
    const pending = deferred<string>();
    const start = () => {
      sent.push('a');
      return pending.promise;
    };
    const first = inFlight.run('a', start);
    const second = inFlight.run('a', start);
    const other = inFlight.run('b', () => Promise.resolve('other'));
    expect([first.shared, second.shared, other.shared]).toEqual([false, true, false]);
    expect(sent).toEqual(['a']);
    pending.resolve('answer');
    expect(await Promise.all([first.promise, second.promise, other.promise])).toEqual(['answer', 'answer', 'other']);
    expect(inFlight.size).toBe(0);
    const third = inFlight.run('a', () => Promise.resolve('fresh'));
    expect(third.shared).toBe(false);
    expect(await third.promise).toBe('fresh');
  });

  it('gives a failure only to the fetches that waited on it', async () => {
    const inFlight = new InFlight<string>();
    const failing = deferred<string>();
    const first = inFlight.run('k', () => failing.promise);
    const waiter = inFlight.run('k', () => Promise.resolve('never started'));
    failing.reject(new Error('connection reset'));
    await expect(first.promise).rejects.toThrow('connection reset');
    await expect(waiter.promise).rejects.toThrow('connection reset');
    // The next fetch is sent anew and succeeds.
    const next = inFlight.run('k', () => Promise.resolve('ok'));
    expect(next.shared).toBe(false);
    await expect(next.promise).resolves.toBe('ok');
  });

  it('shares queries only, never mutations or subscriptions', () => {
    expect(isShareableOperation('query Q__inventory__0{products{id}}')).toBe(true);
    expect(isShareableOperation('{products{id}}')).toBe(true);
    expect(isShareableOperation('  query($representations:[_Any!]!){_entities(representations:$representations){__typename}}')).toBe(true);
    expect(isShareableOperation('mutation M__orders__0($id:ID!){cancelOrder(id:$id){id}}')).toBe(false);
    expect(isShareableOperation('subscription{stockChanged(productId:"p1"){id}}')).toBe(false);
    expect(isShareableOperation('queryX')).toBe(false);
    expect(isShareableOperation('# query\nmutation{cancelOrder(id:"o1"){id}}')).toBe(false);
  });

  it('keys on the subgraph, the caller and the body, never mixing callers', () => {
    const body = '{"query":"{products{id}}","variables":{}}';
    const alice = callerKey({ sub: 'alice', roles: ['admin', 'staff'] });
    expect(callerKey({ sub: 'alice', roles: ['staff', 'admin'] })).toBe(alice);
    const keys = [
      fetchKey('inventory', alice, body),
      fetchKey('orders', alice, body),
      fetchKey('inventory', callerKey({ sub: 'alice', roles: [] }), body),
      fetchKey('inventory', callerKey({ sub: 'bob', roles: ['admin', 'staff'] }), body),
      fetchKey('inventory', callerKey(null), body),
      fetchKey('inventory', alice, '{"query":"{products{id}}","variables":{"first":1}}'),
      // Separators inside a subject or a role cannot make two callers one.
      fetchKey('inventory', callerKey({ sub: 'alice|x', roles: ['admin'] }), body),
      fetchKey('inventory', callerKey({ sub: 'alice', roles: ['x|admin'] }), body),
      fetchKey('inventory', callerKey({ sub: 'alice","x', roles: [] }), body),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('keys a client query on the caller, the operation name, the variables and the document, each kept apart', () => {
    const alice = callerKey({ sub: 'alice', roles: [] });
    const q = 'query($id: ID!) { order(id: $id) { id } }';
    const base = operationKey(alice, undefined, { id: 'o1' }, q);
    expect(operationKey(callerKey({ sub: 'alice', roles: [] }), undefined, { id: 'o1' }, q)).toBe(base);
    const others = [
      operationKey(callerKey({ sub: 'bob', roles: [] }), undefined, { id: 'o1' }, q),
      operationKey(callerKey(null), undefined, { id: 'o1' }, q),
      operationKey(ANY_CALLER, undefined, { id: 'o1' }, q),
      operationKey(alice, 'Order', { id: 'o1' }, q),
      operationKey(alice, undefined, { id: 'o2' }, q),
      operationKey(alice, undefined, { id: 'o1' }, `${q} `),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
    // A caller named like the public marker is still a caller of its own.
    expect(callerKey({ sub: ANY_CALLER, roles: [] })).not.toBe(ANY_CALLER);
  });
});
