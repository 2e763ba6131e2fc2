import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { Writer } from '../protocol/writer.js';
import type { JoinGroupRequest } from '../protocol/requests/join-group.js';
import { GroupCoordinator } from './coordinator.js';
import { OffsetStore } from './offset-store.js';

const client = { clientId: 'c', clientHost: '/127.0.0.1' };
const req = (memberId = '', protocols = ['range', 'roundrobin']): JoinGroupRequest => ({
  groupId: 'g',
  sessionTimeoutMs: 6000,
  rebalanceTimeoutMs: 10_000,
  memberId,
  groupInstanceId: null,
  protocolType: 'consumer',
  protocols: protocols.map((name) => ({ name, metadata: Buffer.from(name) })),
});

let coord: GroupCoordinator;
let offsets: OffsetStore;
beforeEach(() => {
  vi.useFakeTimers();
  offsets = new OffsetStore(null);
  coord = new GroupCoordinator(offsets, pino({ level: 'silent' }));
});
afterEach(() => {
  coord.close();
  vi.useRealTimers();
});

async function joinNew(protocols?: string[]) {
  const first = await coord.join(req('', protocols), 5, client);
  expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
  return { memberId: first.memberId, joined: coord.join(req(first.memberId, protocols), 5, client) };
}

describe('GroupCoordinator', () => {
  it('requires a member id on v4+, elects a leader, and picks a protocol all members support', async () => {
    const a = await joinNew();
    const ra = await a.joined;
    expect(ra).toMatchObject({ errorCode: 0, generationId: 1, leader: a.memberId, protocolName: 'range' });
    expect(coord.heartbeat('g', a.memberId, 1)).toBe(ErrorCode.NONE);
    await coord.sync({ groupId: 'g', generationId: 1, memberId: a.memberId, assignments: [{ memberId: a.memberId, assignment: Buffer.from('A') }] });

    // A second member joining forces a rebalance; the leader learns it from its heartbeat.
    const b = await joinNew(['roundrobin']);
    expect(coord.heartbeat('g', a.memberId, 1)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const raa = coord.join(req(a.memberId), 5, client);
    const [r2a, r2b] = await Promise.all([raa, b.joined]);
    expect(r2a).toMatchObject({ generationId: 2, leader: a.memberId, protocolName: 'roundrobin' });
    expect(r2a.members).toHaveLength(2);
    expect(r2b.members).toHaveLength(0);

    const syncB = coord.sync({ groupId: 'g', generationId: 2, memberId: b.memberId, assignments: [] });
    const syncA = coord.sync({
      groupId: 'g',
      generationId: 2,
      memberId: a.memberId,
      assignments: [
        { memberId: a.memberId, assignment: Buffer.from('A') },
        { memberId: b.memberId, assignment: Buffer.from('B') },
      ],
    });
    expect((await syncB).assignment.toString()).toBe('B');
    expect((await syncA).assignment.toString()).toBe('A');
    expect(coord.describe('g')).toMatchObject({ state: 'Stable', protocol: 'roundrobin' });

    expect(coord.heartbeat('g', a.memberId, 1)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(coord.heartbeat('g', 'nobody', 2)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(coord.heartbeat('other', a.memberId, 2)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('evicts a member that stops heartbeating and rebalances the rest', async () => {
    const a = await joinNew();
    await a.joined;
    const b = await joinNew();
    const [ra] = await Promise.all([coord.join(req(a.memberId), 5, client), b.joined]);
    const gen = ra.generationId;
    void coord.sync({ groupId: 'g', generationId: gen, memberId: b.memberId, assignments: [] });
    await coord.sync({ groupId: 'g', generationId: gen, memberId: a.memberId, assignments: [] });

    for (let i = 0; i < 4; i++) {
      vi.advanceTimersByTime(2000);
      coord.heartbeat('g', a.memberId, gen);
    }
    expect(coord.heartbeat('g', a.memberId, gen)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(coord.describe('g').members.map((m) => m.memberId)).toEqual([a.memberId]);
    const again = await coord.join(req(a.memberId), 5, client);
    expect(again).toMatchObject({ errorCode: 0, generationId: gen + 1, leader: a.memberId });
  });

  it('drops members that do not rejoin within the rebalance timeout, and handles leave', async () => {
    const a = await joinNew();
    await a.joined;
    const b = await joinNew();
    await Promise.all([coord.join(req(a.memberId), 5, client), b.joined]);
    // b leaves: a rebalance starts, a never rejoins and is dropped after the rebalance timeout.
    expect(coord.leave('g', b.memberId)).toBe(ErrorCode.NONE);
    expect(coord.leave('g', b.memberId)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(coord.describe('g').state).toBe('PreparingRebalance');
    vi.advanceTimersByTime(10_001);
    expect(coord.describe('g')).toMatchObject({ state: 'Empty', members: [] });
  });

  it('validates offset commits by generation and member', async () => {
    const commit = (generationId: number, memberId: string) =>
      coord.validateCommit({ groupId: 'g', generationId, memberId, topics: [] });
    expect(commit(-1, '')).toBe(ErrorCode.NONE);
    expect(commit(3, 'x')).toBe(ErrorCode.ILLEGAL_GENERATION);
    const a = await joinNew();
    const ra = await a.joined;
    expect(commit(ra.generationId, a.memberId)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    await coord.sync({ groupId: 'g', generationId: ra.generationId, memberId: a.memberId, assignments: [] });
    expect(commit(ra.generationId, a.memberId)).toBe(ErrorCode.NONE);
    expect(commit(ra.generationId + 1, a.memberId)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(commit(ra.generationId, 'stranger')).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('lets a restarted static member replace its predecessor right away', async () => {
    const staticReq = (memberId = ''): JoinGroupRequest => ({ ...req(memberId), groupInstanceId: 'instance-1' });
    const first = await coord.join(staticReq(), 5, client);
    expect(first.errorCode).toBe(ErrorCode.NONE);
    const second = await coord.join(staticReq(), 5, client);
    expect(second.errorCode).toBe(ErrorCode.NONE);
    expect(second.memberId).not.toBe(first.memberId);
    expect(coord.describe('g').members.map((m) => m.memberId)).toEqual([second.memberId]);
    expect(coord.heartbeat('g', first.memberId, second.generationId)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('deletes only groups without members, and offsets only of topics no live member subscribes to', async () => {
    // A real consumer-protocol subscription: version, topics, user data.
    const subscription = (topics: string[]) =>
      Buffer.from(new Writer().int16(0).array(topics, (w, t) => w.string(t)).bytes(null).toBuffer());
    const consumerReq = (memberId: string): JoinGroupRequest => ({
      ...req(memberId),
      protocols: [{ name: 'range', metadata: subscription(['orders']) }],
    });
    const first = await coord.join(consumerReq(''), 5, client);
    const joined = await coord.join(consumerReq(first.memberId), 5, client);
    await coord.sync({ groupId: 'g', generationId: joined.generationId, memberId: first.memberId, assignments: [] });
    offsets.commit('g', [
      { topic: 'orders', partition: 0, offset: 5, metadata: null },
      { topic: 'payments', partition: 0, offset: 7, metadata: null },
    ]);

    expect(coord.deleteGroup('g')).toBe(ErrorCode.NON_EMPTY_GROUP);
    const verdict = coord.offsetDeletion('g');
    expect(verdict.errorCode).toBe(ErrorCode.NONE);
    expect([verdict.isSubscribed('orders'), verdict.isSubscribed('payments')]).toEqual([true, false]);
    expect(coord.offsetDeletion('nobody').errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    expect(coord.deleteGroup('nobody')).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
    expect(coord.deleteGroup('')).toBe(ErrorCode.INVALID_GROUP_ID);

    // Opaque metadata of another protocol type: nothing may be deleted while members are live.
    await coord.join({ ...req(''), groupId: 'connect', protocolType: 'connect' }, 3, client);
    expect(coord.offsetDeletion('connect').errorCode).toBe(ErrorCode.NON_EMPTY_GROUP);

    expect(coord.leave('g', first.memberId)).toBe(ErrorCode.NONE);
    expect(coord.offsetDeletion('g').isSubscribed('orders')).toBe(false);
    expect(coord.deleteGroup('g')).toBe(ErrorCode.NONE);
    expect(offsets.get('g', 'orders', 0)).toBeUndefined();
    expect(coord.describe('g').state).toBe('Dead');
    expect(coord.deleteGroup('g')).toBe(ErrorCode.GROUP_ID_NOT_FOUND);

    // Offsets alone (a group that only ever committed, or one from before a restart) make a group deletable.
    offsets.commit('committer', [{ topic: 'orders', partition: 1, offset: 3, metadata: null }]);
    expect(coord.offsetDeletion('committer').errorCode).toBe(ErrorCode.NONE);
    expect(coord.deleteGroup('committer')).toBe(ErrorCode.NONE);
    expect(offsets.groupIds()).toEqual([]);
  });
});
