import type { BrokerContext, ConnectionInfo } from '../context.js';
import { ApiKey } from '../protocol/api-keys.js';
import * as cluster from './cluster.js';
import * as configs from './configs.js';
import * as data from './data.js';
import * as groups from './groups.js';

/** A handler returns the response body, a promise of it (parked requests), or null for no response. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (ctx: BrokerContext, req: any, version: number, conn: ConnectionInfo) => unknown;

export const handlers: Record<number, Handler> = {
  [ApiKey.Produce]: (ctx, req) => data.handleProduce(ctx, req),
  [ApiKey.Fetch]: (ctx, req, _v, conn) => data.handleFetch(ctx, req, conn),
  [ApiKey.ListOffsets]: (ctx, req) => data.handleListOffsets(ctx, req),
  [ApiKey.Metadata]: (ctx, req) => cluster.handleMetadata(ctx, req),
  [ApiKey.OffsetCommit]: (ctx, req) => groups.handleOffsetCommit(ctx, req),
  [ApiKey.OffsetFetch]: (ctx, req) => groups.handleOffsetFetch(ctx, req),
  [ApiKey.FindCoordinator]: (ctx, req) => cluster.handleFindCoordinator(ctx, req),
  [ApiKey.JoinGroup]: (ctx, req, v, conn) => groups.handleJoinGroup(ctx, req, v, conn),
  [ApiKey.Heartbeat]: (ctx, req) => groups.handleHeartbeat(ctx, req),
  [ApiKey.LeaveGroup]: (ctx, req) => groups.handleLeaveGroup(ctx, req),
  [ApiKey.SyncGroup]: (ctx, req) => groups.handleSyncGroup(ctx, req),
  [ApiKey.DescribeGroups]: (ctx, req) => groups.handleDescribeGroups(ctx, req),
  [ApiKey.ListGroups]: (ctx) => groups.handleListGroups(ctx),
  [ApiKey.ApiVersions]: () => cluster.handleApiVersions(),
  [ApiKey.CreateTopics]: (ctx, req) => cluster.handleCreateTopics(ctx, req),
  [ApiKey.DeleteTopics]: (ctx, req) => cluster.handleDeleteTopics(ctx, req),
  [ApiKey.InitProducerId]: (ctx, req) => cluster.handleInitProducerId(ctx, req),
  [ApiKey.DescribeConfigs]: (ctx, req) => configs.handleDescribeConfigs(ctx, req),
  [ApiKey.CreatePartitions]: (ctx, req) => cluster.handleCreatePartitions(ctx, req),
  [ApiKey.DeleteGroups]: (ctx, req) => groups.handleDeleteGroups(ctx, req),
  [ApiKey.OffsetDelete]: (ctx, req) => groups.handleOffsetDelete(ctx, req),
};
