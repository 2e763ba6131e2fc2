/**
 * Group coordinator for every group (one broker is the coordinator of all of them): membership,
 * rebalances, session expiry and committed offsets, with the error codes Kafka's GroupCoordinator
 * answers in each state. All state changes happen synchronously on the event loop; JoinGroup and
 * SyncGroup return promises that resolve when the rebalance reaches the point the caller waits for.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.js';
import type { DescribedGroup } from '../protocol/requests/describe-groups.js';
import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/requests/join-group.js';
import type { OffsetCommitRequest } from '../protocol/requests/offset-commit.js';
import type { SyncGroupRequest, SyncGroupResponse } from '../protocol/requests/sync-group.js';
import { CONSUMER_PROTOCOL_TYPE, subscribedTopics } from './consumer-protocol.js';
import { Group, type Member } from './group.js';
import type { OffsetStore } from './offset-store.js';

/** Kafka's group.min/max.session.timeout.ms, with the minimum lowered so tests can use short ones. */
export const MIN_SESSION_TIMEOUT_MS = 1_000;
export const MAX_SESSION_TIMEOUT_MS = 1_800_000;

export interface ClientInfo {
  clientId: string;
  clientHost: string;
}

const EMPTY = Buffer.alloc(0);

function joinError(errorCode: number, memberId = ''): JoinGroupResponse {
  return { errorCode, generationId: -1, protocolName: '', leader: '', memberId, members: [] };
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private closed = false;

  constructor(
    private readonly offsets: OffsetStore,
    private readonly logger: Logger,
  ) {}

  private group(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  private getOrCreate(groupId: string): Group {
    let g = this.groups.get(groupId);
    if (!g) this.groups.set(groupId, (g = new Group(groupId)));
    return g;
  }

  // ── JoinGroup ────────────────────────────────────────────────────────────────────────────────
  join(req: JoinGroupRequest, version: number, client: ClientInfo): Promise<JoinGroupResponse> {
    if (this.closed) return Promise.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!req.groupId) return Promise.resolve(joinError(ErrorCode.INVALID_GROUP_ID));
    if (req.sessionTimeoutMs < MIN_SESSION_TIMEOUT_MS || req.sessionTimeoutMs > MAX_SESSION_TIMEOUT_MS) {
      return Promise.resolve(joinError(ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const group = this.getOrCreate(req.groupId);
    if (group.state === 'Dead') return Promise.resolve(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!group.supportsProtocols(req.protocolType, req.protocols.map((p) => p.name))) {
      return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }

    if (req.memberId === '') {
      const memberId = `${client.clientId || 'member'}-${randomUUID()}`;
      if (req.groupInstanceId !== null) {
        // Static membership (KIP-345): a restarted instance takes over its predecessor's place
        // instead of waiting for the old member's session to expire.
        const previous = [...group.members.values()].find((m) => m.groupInstanceId === req.groupInstanceId);
        if (previous) {
          previous.awaitingJoin?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, previous.memberId));
          previous.awaitingJoin = null;
          previous.awaitingSync?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
          previous.awaitingSync = null;
          this.removeMember(group, previous, 'replaced by a new instance with the same group.instance.id');
        }
        return this.addMemberAndRebalance(group, memberId, req, client);
      }
      if (version >= 4) {
        // KIP-394: the id is only reserved; the member becomes real when it rejoins with it.
        group.pendingMembers.set(
          memberId,
          setTimeout(() => this.expirePending(group, memberId), req.sessionTimeoutMs).unref(),
        );
        return Promise.resolve(joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId));
      }
      return this.addMemberAndRebalance(group, memberId, req, client);
    }

    const pending = group.pendingMembers.get(req.memberId);
    if (pending) {
      clearTimeout(pending);
      group.pendingMembers.delete(req.memberId);
      return this.addMemberAndRebalance(group, req.memberId, req, client);
    }

    const member = group.members.get(req.memberId);
    if (!member) return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));

    const sameProtocols =
      member.protocols.length === req.protocols.length &&
      member.protocols.every((p, i) => p.name === req.protocols[i]!.name && p.metadata.equals(req.protocols[i]!.metadata));

    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndWait(group, member, req);
      case 'CompletingRebalance':
        if (sameProtocols) return Promise.resolve(this.joinResponse(group, member));
        return this.updateMemberAndRebalance(group, member, req, 'member changed protocols');
      case 'Stable':
        if (member.memberId === group.leaderId || !sameProtocols) {
          return this.updateMemberAndRebalance(group, member, req, 'leader or changed member rejoined');
        }
        return Promise.resolve(this.joinResponse(group, member));
      default:
        return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
    }
  }

  private addMemberAndRebalance(group: Group, memberId: string, req: JoinGroupRequest, client: ClientInfo): Promise<JoinGroupResponse> {
    const member: Member = {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: client.clientId,
      clientHost: client.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      assignment: EMPTY,
      awaitingJoin: null,
      awaitingSync: null,
      sessionTimer: null,
      isNew: true,
    };
    if (group.members.size === 0) group.protocolType = req.protocolType;
    group.members.set(memberId, member);
    if (!group.leaderId) group.leaderId = memberId;
    const p = this.awaitJoin(member);
    this.prepareRebalance(group, `member ${memberId} joined`);
    this.maybeCompleteJoin(group);
    return p;
  }

  private updateMemberAndWait(group: Group, member: Member, req: JoinGroupRequest): Promise<JoinGroupResponse> {
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    const p = this.awaitJoin(member);
    this.maybeCompleteJoin(group);
    return p;
  }

  private updateMemberAndRebalance(group: Group, member: Member, req: JoinGroupRequest, reason: string): Promise<JoinGroupResponse> {
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    const p = this.awaitJoin(member);
    this.prepareRebalance(group, reason);
    this.maybeCompleteJoin(group);
    return p;
  }

  private awaitJoin(member: Member): Promise<JoinGroupResponse> {
    // A second join from the same member (client retry) supersedes the first.
    member.awaitingJoin?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    return new Promise((resolve) => {
      member.awaitingJoin = resolve;
    });
  }

  private joinResponse(group: Group, member: Member): JoinGroupResponse {
    const protocol = group.protocol ?? '';
    const isLeader = member.memberId === group.leaderId;
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolName: protocol,
      leader: group.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader
        ? [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: group.metadataFor(m, protocol),
          }))
        : [],
    };
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'PreparingRebalance') return;
    // Members waiting for their assignment of the generation being abandoned must rejoin.
    if (group.state === 'CompletingRebalance') {
      for (const m of group.members.values()) {
        m.awaitingSync?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
        m.awaitingSync = null;
      }
    }
    group.state = 'PreparingRebalance';
    const timeout = Math.max(group.maxRebalanceTimeoutMs(), 1);
    this.logger.info({ group: group.groupId, reason, generation: group.generationId }, 'preparing rebalance');
    if (group.rebalanceTimer) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = setTimeout(() => this.onRebalanceTimeout(group), timeout).unref();
  }

  /** Members that did not rejoin within the rebalance timeout are dropped, then the join completes. */
  private onRebalanceTimeout(group: Group): void {
    group.rebalanceTimer = null;
    if (group.state !== 'PreparingRebalance') return;
    for (const m of [...group.members.values()]) {
      if (!m.awaitingJoin) this.removeMember(group, m, 'did not rejoin within the rebalance timeout');
    }
    for (const [id, t] of group.pendingMembers) {
      clearTimeout(t);
      group.pendingMembers.delete(id);
    }
    this.completeJoin(group);
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state === 'PreparingRebalance' && group.allMembersJoined()) this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.rebalanceTimer) {
      clearTimeout(group.rebalanceTimer);
      group.rebalanceTimer = null;
    }
    group.generationId++;
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.protocol = null;
      group.leaderId = null;
      this.logger.info({ group: group.groupId, generation: group.generationId }, 'group is empty');
      return;
    }
    if (!group.leaderId || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!;
    group.protocol = group.selectProtocol();
    group.state = 'CompletingRebalance';
    this.logger.info(
      { group: group.groupId, generation: group.generationId, members: group.members.size, protocol: group.protocol },
      'rebalance: join complete',
    );
    for (const m of group.members.values()) {
      m.isNew = false;
      m.assignment = EMPTY;
      const resolve = m.awaitingJoin;
      m.awaitingJoin = null;
      resolve?.(this.joinResponse(group, m));
      this.scheduleSessionExpiry(group, m);
    }
  }

  // ── Membership liveness ──────────────────────────────────────────────────────────────────────
  private scheduleSessionExpiry(group: Group, member: Member): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => this.onSessionExpired(group, member), member.sessionTimeoutMs).unref();
  }

  private onSessionExpired(group: Group, member: Member): void {
    member.sessionTimer = null;
    if (group.members.get(member.memberId) !== member) return;
    // A member parked in JoinGroup/SyncGroup is alive by definition (Kafka's shouldKeepAlive).
    if (member.awaitingJoin || member.awaitingSync) {
      this.scheduleSessionExpiry(group, member);
      return;
    }
    this.removeMember(group, member, 'session timeout');
    this.afterMemberRemoved(group, `member ${member.memberId} session expired`);
  }

  private expirePending(group: Group, memberId: string): void {
    if (!group.pendingMembers.delete(memberId)) return;
    this.maybeCompleteJoin(group);
  }

  private removeMember(group: Group, member: Member, reason: string): void {
    if (member.sessionTimer) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
    group.members.delete(member.memberId);
    if (group.leaderId === member.memberId) group.leaderId = group.members.keys().next().value ?? null;
    this.logger.info({ group: group.groupId, member: member.memberId, reason }, 'member removed');
  }

  private afterMemberRemoved(group: Group, reason: string): void {
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.prepareRebalance(group, reason);
        this.maybeCompleteJoin(group);
        break;
      case 'PreparingRebalance':
        this.maybeCompleteJoin(group);
        break;
      default:
        break;
    }
  }

  // ── SyncGroup / Heartbeat / LeaveGroup ──────────────────────────────────────────────────────
  sync(req: SyncGroupRequest): Promise<SyncGroupResponse> {
    const fail = (code: number): Promise<SyncGroupResponse> => Promise.resolve({ errorCode: code, assignment: EMPTY });
    const group = this.group(req.groupId);
    if (!group) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    const member = group.members.get(req.memberId);
    if (!member) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (req.generationId !== group.generationId) return fail(ErrorCode.ILLEGAL_GENERATION);
    switch (group.state) {
      case 'PreparingRebalance':
        return fail(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'CompletingRebalance': {
        const p = new Promise<SyncGroupResponse>((resolve) => {
          member.awaitingSync?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
          member.awaitingSync = resolve;
        });
        this.scheduleSessionExpiry(group, member);
        if (member.memberId === group.leaderId) {
          const given = new Map(req.assignments.map((a) => [a.memberId, a.assignment]));
          for (const m of group.members.values()) m.assignment = given.get(m.memberId) ?? EMPTY;
          group.state = 'Stable';
          this.logger.info({ group: group.groupId, generation: group.generationId }, 'rebalance: group stable');
          for (const m of group.members.values()) {
            const resolve = m.awaitingSync;
            m.awaitingSync = null;
            resolve?.({ errorCode: ErrorCode.NONE, assignment: m.assignment });
          }
        }
        return p;
      }
      case 'Stable':
        this.scheduleSessionExpiry(group, member);
        return Promise.resolve({ errorCode: ErrorCode.NONE, assignment: member.assignment });
      default:
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  heartbeat(groupId: string, memberId: string, generationId: number): number {
    const group = this.group(groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.scheduleSessionExpiry(group, member);
    return group.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  leave(groupId: string, memberId: string): number {
    const group = this.group(groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    const pending = group.pendingMembers.get(memberId);
    if (pending) {
      clearTimeout(pending);
      group.pendingMembers.delete(memberId);
      this.maybeCompleteJoin(group);
      return ErrorCode.NONE;
    }
    const member = group.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    member.awaitingJoin?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
    member.awaitingJoin = null;
    member.awaitingSync?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    member.awaitingSync = null;
    this.removeMember(group, member, 'left the group');
    this.afterMemberRemoved(group, `member ${memberId} left`);
    return ErrorCode.NONE;
  }

  // ── Offsets ──────────────────────────────────────────────────────────────────────────────────
  /** Returns the error code for the whole commit (Kafka applies one verdict to every partition). */
  validateCommit(req: OffsetCommitRequest): number {
    const group = this.group(req.groupId);
    if (!req.groupId) return ErrorCode.INVALID_GROUP_ID;
    if (!group) {
      // Groups that do not use the coordinator for membership commit with generation -1 (simple consumers).
      if (req.generationId < 0) return ErrorCode.NONE;
      return ErrorCode.ILLEGAL_GENERATION;
    }
    if (group.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (req.generationId < 0 && group.state === 'Empty') return ErrorCode.NONE;
    if (group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    const member = group.members.get(req.memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (req.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    // Committing proves liveness, and members commit right before rejoining during a rebalance.
    this.scheduleSessionExpiry(group, member);
    return ErrorCode.NONE;
  }

  // ── Deletion ─────────────────────────────────────────────────────────────────────────────────
  /** DeleteGroups for one group: only a group without members can go, and its offsets go with it. */
  deleteGroup(groupId: string): number {
    if (!groupId) return ErrorCode.INVALID_GROUP_ID;
    const group = this.group(groupId);
    const hasOffsets = this.offsets.groupIds().includes(groupId);
    if (!hasOffsets && (!group || group.state === 'Dead')) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (group && group.state !== 'Empty' && group.state !== 'Dead') return ErrorCode.NON_EMPTY_GROUP;
    if (group) {
      // Ids handed out with MEMBER_ID_REQUIRED die with the group; a later join starts a new one.
      for (const t of group.pendingMembers.values()) clearTimeout(t);
      group.pendingMembers.clear();
      group.state = 'Dead';
      this.groups.delete(groupId);
    }
    this.offsets.deleteGroup(groupId);
    this.logger.info({ group: groupId }, 'group deleted');
    return ErrorCode.NONE;
  }

  /**
   * Whether OffsetDelete may touch this group (Kafka's rules): an unknown group is GROUP_ID_NOT_FOUND,
   * an empty one may lose any offset, a live consumer group only those of topics no member subscribes
   * to, and a live group of another protocol none (NON_EMPTY_GROUP, since its subscriptions are opaque).
   */
  offsetDeletion(groupId: string): { errorCode: number; isSubscribed: (topic: string) => boolean } {
    const none = { errorCode: ErrorCode.NONE, isSubscribed: () => false };
    const group = this.group(groupId);
    if (!group || group.state === 'Dead') {
      return this.offsets.groupIds().includes(groupId) ? none : { ...none, errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
    }
    if (group.state === 'Empty') return none;
    if (group.protocolType !== CONSUMER_PROTOCOL_TYPE) return { ...none, errorCode: ErrorCode.NON_EMPTY_GROUP };
    const topics = new Set<string>();
    let opaque = false;
    for (const m of group.members.values()) {
      for (const p of m.protocols) {
        const subscribed = subscribedTopics(p.metadata);
        if (subscribed) for (const t of subscribed) topics.add(t);
        else opaque = true;
      }
    }
    // A subscription that does not parse could name any topic: keep every offset rather than guess.
    return { errorCode: ErrorCode.NONE, isSubscribed: (topic) => opaque || topics.has(topic) };
  }

  // ── Introspection ────────────────────────────────────────────────────────────────────────────
  describe(groupId: string): DescribedGroup {
    const group = this.group(groupId);
    if (!group) {
      const known = this.offsets.groupIds().includes(groupId);
      return { errorCode: ErrorCode.NONE, groupId, state: known ? 'Empty' : 'Dead', protocolType: known ? 'consumer' : '', protocol: '', members: [] };
    }
    const stable = group.state === 'Stable';
    const protocol = group.protocol ?? '';
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocol: stable || group.state === 'CompletingRebalance' ? protocol : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? group.metadataFor(m, protocol) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  list(): { groupId: string; protocolType: string }[] {
    const out = new Map<string, string>();
    for (const g of this.offsets.groupIds()) out.set(g, 'consumer');
    for (const g of this.groups.values()) if (g.state !== 'Dead') out.set(g.groupId, g.protocolType ?? '');
    return [...out].map(([groupId, protocolType]) => ({ groupId, protocolType }));
  }

  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) {
      if (g.rebalanceTimer) clearTimeout(g.rebalanceTimer);
      for (const t of g.pendingMembers.values()) clearTimeout(t);
      for (const m of g.members.values()) {
        if (m.sessionTimer) clearTimeout(m.sessionTimer);
        m.awaitingJoin?.(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
        m.awaitingSync?.({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, assignment: EMPTY });
      }
    }
  }
}
