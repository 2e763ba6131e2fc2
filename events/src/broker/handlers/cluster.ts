/** ApiVersions, Metadata, FindCoordinator, InitProducerId and topic administration. */
import type { BrokerContext } from '../context.js';
import { validateTopicName } from '../log/log-manager.js';
import { codeOf, ErrorCode, KafkaBrokerError } from '../protocol/errors.js';
import type { ApiVersionsResponse } from '../protocol/requests/api-versions.js';
import type { TopicResult } from '../protocol/requests/create-topics.js';
import type { CreatePartitionsRequest } from '../protocol/requests/create-partitions.js';
import type { CreateTopicsRequest } from '../protocol/requests/create-topics.js';
import type { DeleteTopicsResponse } from '../protocol/requests/delete-topics.js';
import type { FindCoordinatorRequest, FindCoordinatorResponse } from '../protocol/requests/find-coordinator.js';
import { codecs } from '../protocol/requests/index.js';
import type { InitProducerIdResponse } from '../protocol/requests/init-producer-id.js';
import type { MetadataRequest, MetadataResponse, MetadataTopic } from '../protocol/requests/metadata.js';

export function supportedVersions(): ApiVersionsResponse['apiKeys'] {
  return codecs
    .map((c) => ({ apiKey: c.apiKey, minVersion: c.advertisedMinVersion ?? c.minVersion, maxVersion: c.maxVersion }))
    .sort((a, b) => a.apiKey - b.apiKey);
}

export function handleApiVersions(): ApiVersionsResponse {
  return { errorCode: ErrorCode.NONE, apiKeys: supportedVersions() };
}

function describeTopic(ctx: BrokerContext, name: string): MetadataTopic | null {
  const logs = ctx.logs.partitions(name);
  if (!logs) return null;
  return {
    errorCode: ErrorCode.NONE,
    name,
    partitions: logs.map((l) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: l.partition,
      leaderId: ctx.nodeId,
      leaderEpoch: 0,
      replicas: [ctx.nodeId],
    })),
  };
}

export function handleMetadata(ctx: BrokerContext, req: MetadataRequest): MetadataResponse {
  const names = req.topics ?? ctx.logs.topicNames();
  const topics = names.map((name): MetadataTopic => {
    const fail = (errorCode: number): MetadataTopic => ({ errorCode, name, partitions: [] });
    const found = describeTopic(ctx, name);
    if (found) return found;
    try {
      validateTopicName(name);
    } catch (err) {
      return fail(codeOf(err));
    }
    if (!ctx.autoCreateTopics || !req.allowAutoTopicCreation) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    // Created synchronously, so the very first answer already has a leader and clients need no retry.
    try {
      ctx.logs.createTopic(name, ctx.defaultPartitions);
    } catch (err) {
      return fail(codeOf(err));
    }
    return describeTopic(ctx, name) ?? fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
  return {
    brokers: [{ nodeId: ctx.nodeId, host: ctx.advertisedHost, port: ctx.advertisedPort }],
    clusterId: ctx.clusterId,
    controllerId: ctx.nodeId,
    topics,
  };
}

const TRANSACTION_KEY = 1;

export function handleFindCoordinator(ctx: BrokerContext, req: FindCoordinatorRequest): FindCoordinatorResponse {
  const self = { nodeId: ctx.nodeId, host: ctx.advertisedHost, port: ctx.advertisedPort };
  // No transaction coordinator exists. COORDINATOR_NOT_AVAILABLE is what a Kafka cluster without a
  // usable transaction log answers; clients retry until their own timeout, and the message says why.
  if (req.keyType === TRANSACTION_KEY) {
    const errorMessage = 'transactions are not supported by this broker';
    return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage, nodeId: -1, host: '', port: -1 };
  }
  if (ctx.isClosing()) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, nodeId: -1, host: '', port: -1 };
  return { errorCode: ErrorCode.NONE, ...self };
}

export function handleInitProducerId(ctx: BrokerContext, req: { transactionalId: string | null }): InitProducerIdResponse {
  if (req.transactionalId !== null) return { errorCode: ErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 };
  return { errorCode: ErrorCode.NONE, producerId: ctx.logs.allocateProducerId(), producerEpoch: 0 };
}

function result(name: string, fn: () => void): TopicResult {
  try {
    fn();
    return { name, errorCode: ErrorCode.NONE, errorMessage: null };
  } catch (err) {
    if (!(err instanceof KafkaBrokerError)) throw err;
    return { name, errorCode: err.code, errorMessage: err.message };
  }
}

export function handleCreateTopics(ctx: BrokerContext, req: CreateTopicsRequest): { topics: TopicResult[] } {
  const seen = new Map<string, number>();
  for (const t of req.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  return {
    topics: req.topics.map((t) =>
      result(t.name, () => {
        if (seen.get(t.name)! > 1) throw new KafkaBrokerError('INVALID_REQUEST', 'topic listed more than once');
        if (t.replicationFactor > 1) {
          throw new KafkaBrokerError('INVALID_REPLICATION_FACTOR', `replication factor ${t.replicationFactor} > 1 available broker`);
        }
        const count = t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? ctx.defaultPartitions : t.numPartitions;
        ctx.logs.createTopic(t.name, count, req.validateOnly);
      }),
    ),
  };
}

export function handleDeleteTopics(ctx: BrokerContext, req: { topicNames: string[] }): DeleteTopicsResponse {
  return {
    topics: req.topicNames.map((name) => {
      const r = result(name, () => {
        ctx.logs.deleteTopic(name);
        ctx.offsets.deleteTopic(name);
      });
      return { name, errorCode: r.errorCode };
    }),
  };
}

export function handleCreatePartitions(ctx: BrokerContext, req: CreatePartitionsRequest): { results: TopicResult[] } {
  return { results: req.topics.map((t) => result(t.name, () => ctx.logs.addPartitions(t.name, t.count, req.validateOnly))) };
}
