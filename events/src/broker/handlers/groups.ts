/** Consumer group APIs: thin adapters from the wire to the GroupCoordinator and the OffsetStore. */
import type { BrokerContext, ConnectionInfo } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type { DeleteGroupsResponse } from '../protocol/requests/delete-groups.js';
import type { DescribedGroup } from '../protocol/requests/describe-groups.js';
import type { HeartbeatRequest } from '../protocol/requests/heartbeat.js';
import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/requests/join-group.js';
import type { LeaveGroupRequest } from '../protocol/requests/leave-group.js';
import type { ListGroupsResponse } from '../protocol/requests/list-groups.js';
import type { OffsetCommitRequest, OffsetCommitResponse } from '../protocol/requests/offset-commit.js';
import type { OffsetDeleteRequest, OffsetDeleteResponse } from '../protocol/requests/offset-delete.js';
import type { OffsetFetchPartition, OffsetFetchRequest, OffsetFetchResponse } from '../protocol/requests/offset-fetch.js';
import type { SyncGroupRequest, SyncGroupResponse } from '../protocol/requests/sync-group.js';

export function handleJoinGroup(ctx: BrokerContext, req: JoinGroupRequest, version: number, conn: ConnectionInfo): Promise<JoinGroupResponse> {
  return ctx.groups.join(req, version, { clientId: conn.clientId, clientHost: conn.clientHost });
}

export function handleSyncGroup(ctx: BrokerContext, req: SyncGroupRequest): Promise<SyncGroupResponse> {
  return ctx.groups.sync(req);
}

export function handleHeartbeat(ctx: BrokerContext, req: HeartbeatRequest): { errorCode: number } {
  return { errorCode: ctx.groups.heartbeat(req.groupId, req.memberId, req.generationId) };
}

export function handleLeaveGroup(ctx: BrokerContext, req: LeaveGroupRequest): { errorCode: number } {
  return { errorCode: ctx.groups.leave(req.groupId, req.memberId) };
}

export function handleOffsetCommit(ctx: BrokerContext, req: OffsetCommitRequest): OffsetCommitResponse {
  const verdict = ctx.groups.validateCommit(req);
  const accepted: { topic: string; partition: number; offset: number; metadata: string | null }[] = [];
  const res: OffsetCommitResponse = {
    topics: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        let errorCode: number = verdict;
        if (errorCode === ErrorCode.NONE && !ctx.logs.get(t.name, p.partitionIndex)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        if (errorCode === ErrorCode.NONE) accepted.push({ topic: t.name, partition: p.partitionIndex, offset: p.offset, metadata: p.metadata });
        return { partitionIndex: p.partitionIndex, errorCode };
      }),
    })),
  };
  ctx.offsets.commit(req.groupId, accepted);
  return res;
}

export function handleOffsetFetch(ctx: BrokerContext, req: OffsetFetchRequest): OffsetFetchResponse {
  const entry = (topic: string, partition: number): OffsetFetchPartition => {
    const c = ctx.offsets.get(req.groupId, topic, partition);
    return { partitionIndex: partition, offset: c?.offset ?? -1, metadata: c?.metadata ?? '', errorCode: ErrorCode.NONE };
  };
  if (req.topics === null) {
    const topics = [...ctx.offsets.ofGroup(req.groupId)].map(([name, parts]) => ({
      name,
      partitions: [...parts.keys()].map((p) => entry(name, p)),
    }));
    return { errorCode: ErrorCode.NONE, topics };
  }
  return {
    errorCode: ErrorCode.NONE,
    topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((p) => entry(t.name, p)) })),
  };
}

export function handleDescribeGroups(ctx: BrokerContext, req: { groups: string[] }): { groups: DescribedGroup[] } {
  return { groups: req.groups.map((g) => ctx.groups.describe(g)) };
}

export function handleListGroups(ctx: BrokerContext): ListGroupsResponse {
  return { errorCode: ErrorCode.NONE, groups: ctx.groups.list() };
}

export function handleDeleteGroups(ctx: BrokerContext, req: { groupIds: string[] }): DeleteGroupsResponse {
  return { results: req.groupIds.map((groupId) => ({ groupId, errorCode: ctx.groups.deleteGroup(groupId) })) };
}

export function handleOffsetDelete(ctx: BrokerContext, req: OffsetDeleteRequest): OffsetDeleteResponse {
  const verdict = ctx.groups.offsetDeletion(req.groupId);
  if (verdict.errorCode !== ErrorCode.NONE) return { errorCode: verdict.errorCode, topics: [] };
  const deleted: { topic: string; partition: number }[] = [];
  const topics = req.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((partition) => {
      let errorCode: number = ErrorCode.NONE;
      if (!ctx.logs.get(t.name, partition)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      else if (verdict.isSubscribed(t.name)) errorCode = ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
      else deleted.push({ topic: t.name, partition });
      return { partitionIndex: partition, errorCode };
    }),
  }));
  ctx.offsets.delete(req.groupId, deleted);
  return { errorCode: ErrorCode.NONE, topics };
}
