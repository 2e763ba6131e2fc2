/**
 * State of one consumer group, following Kafka's GroupMetadata:
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / rebalance timeout──▶ CompletingRebalance
 *     ▲                    ▲    │                                                  │ leader's SyncGroup
 *     └── last member gone ┘    └─────── join/leave/session expiry ◀── Stable ◀────┘
 *
 * Dead is used once a group is removed (no members, no offsets) so late callers get a clean error.
 */
import type { JoinGroupResponse } from '../protocol/requests/join-group.js';
import type { SyncGroupResponse } from '../protocol/requests/sync-group.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  assignment: Buffer;
  awaitingJoin: ((res: JoinGroupResponse) => void) | null;
  awaitingSync: ((res: SyncGroupResponse) => void) | null;
  sessionTimer: NodeJS.Timeout | null;
  /** Joined in the current rebalance for the first time (a new member that never rejoined is dropped). */
  isNew: boolean;
}

export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocol: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet, with their expiry timers. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  rebalanceTimer: NodeJS.Timeout | null = null;

  constructor(readonly groupId: string) {}

  /** Protocols every member supports; the group can only admit members that share one. */
  supportsProtocols(protocolType: string, names: string[]): boolean {
    if (this.members.size === 0) return names.length > 0;
    if (protocolType !== this.protocolType) return false;
    return names.some((n) => [...this.members.values()].every((m) => m.protocols.some((p) => p.name === n)));
  }

  /** The first protocol in the leader's preference order that all members support. */
  selectProtocol(): string {
    const leader = this.leaderId ? this.members.get(this.leaderId) : undefined;
    const candidates = (leader ?? [...this.members.values()][0]!).protocols.map((p) => p.name);
    const all = [...this.members.values()];
    const chosen = candidates.find((n) => all.every((m) => m.protocols.some((p) => p.name === n)));
    return chosen ?? candidates[0] ?? '';
  }

  metadataFor(member: Member, protocol: string): Buffer {
    return member.protocols.find((p) => p.name === protocol)?.metadata ?? Buffer.alloc(0);
  }

  allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const m of this.members.values()) if (!m.awaitingJoin) return false;
    return true;
  }

  maxRebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }
}
