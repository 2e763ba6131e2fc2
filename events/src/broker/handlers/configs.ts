/**
 * DescribeConfigs: the broker's effective settings under Kafka's config names, so admin tools
 * (`kafka-configs.sh --describe`, `kafka-topics.sh --describe`, librdkafka's DescribeConfigs) see what
 * actually applies. Topics have no overrides of their own (CreateTopics configs are not stored), so a
 * topic config is the broker-wide value and names its `log.*` synonym. Nothing is alterable: every
 * entry is read-only, and only what this broker really enforces is listed.
 */
import type { BrokerContext } from '../context.js';
import { MAX_SESSION_TIMEOUT_MS, MIN_SESSION_TIMEOUT_MS } from '../group/coordinator.js';
import { validateTopicName } from '../log/log-manager.js';
import { codeOf, ErrorCode } from '../protocol/errors.js';
import {
  ConfigSource,
  type DescribeConfigsRequest,
  type DescribeConfigsResource,
  type DescribeConfigsResult,
  type DescribedConfig,
} from '../protocol/requests/describe-configs.js';

/** Kafka's ConfigResource.Type codes. */
export const ResourceType = { Topic: 2, Broker: 4, BrokerLogger: 8 } as const;
/** Kafka's ConfigEntry.ConfigType codes (DescribeConfigs v3+). */
const Type = { Boolean: 1, String: 2, Int: 3, Long: 5, List: 7 } as const;
const LONG_MAX = '9223372036854775807';

interface Entry {
  name: string;
  value: string | null;
  type: number;
  /** StaticBroker for values that come from the broker's options, Default for fixed behaviour. */
  source: number;
  doc: string;
  /** The broker-level name a topic config inherits from. */
  brokerSynonym?: string;
}

const entry = (name: string, value: string | null, type: number, source: number, doc: string, brokerSynonym?: string): Entry => ({
  name,
  value,
  type,
  source,
  doc,
  brokerSynonym,
});

function topicEntries(ctx: BrokerContext): Entry[] {
  const s = ctx.settings;
  const { Default: fixed, StaticBroker: set } = ConfigSource;
  return [
    entry('cleanup.policy', 'delete', Type.List, fixed, 'Old segments are deleted; compaction is not supported.', 'log.cleanup.policy'),
    entry('compression.type', 'producer', Type.String, fixed, 'Batches are stored as produced (none or gzip).', 'compression.type'),
    entry('message.timestamp.type', 'CreateTime', Type.String, fixed, 'Record timestamps are the producer’s.', 'log.message.timestamp.type'),
    entry('min.insync.replicas', '1', Type.Int, fixed, 'Single broker: the leader is the only replica.', 'min.insync.replicas'),
    entry('retention.bytes', String(s.retentionBytes), Type.Long, set, 'Partition size above which old segments go.', 'log.retention.bytes'),
    entry('retention.ms', String(s.retentionMs), Type.Long, set, 'Age of a segment’s newest record when it goes.', 'log.retention.ms'),
    entry('segment.bytes', String(s.segmentBytes), Type.Int, set, 'Segment size at which a new segment file is started.', 'log.segment.bytes'),
  ];
}

function brokerEntries(ctx: BrokerContext): Entry[] {
  const s = ctx.settings;
  const { Default: fixed, StaticBroker: set } = ConfigSource;
  // The fsync policy in Kafka's terms: flush after every message, every interval, or leave it to the OS.
  const persistent = s.dataDir !== null;
  const flushMessages = persistent && s.fsync === 'always' ? '1' : LONG_MAX;
  const flushMs = persistent && s.fsync === 'interval' ? String(s.fsyncIntervalMs) : LONG_MAX;
  const listener = `PLAINTEXT://${ctx.advertisedHost}:${ctx.advertisedPort}`;
  return [
    entry('broker.id', String(ctx.nodeId), Type.Int, set, 'This broker’s node id.'),
    entry('advertised.listeners', listener, Type.String, set, 'Where clients are told to connect.'),
    entry('auto.create.topics.enable', String(ctx.autoCreateTopics), Type.Boolean, set, 'Metadata requests may create unknown topics.'),
    entry('num.partitions', String(ctx.defaultPartitions), Type.Int, set, 'Partitions of auto-created topics.'),
    entry('default.replication.factor', '1', Type.Int, fixed, 'Single broker.'),
    entry('log.dirs', s.dataDir, Type.String, set, 'Data directory; null when everything is kept in memory.'),
    entry('log.retention.bytes', String(s.retentionBytes), Type.Long, set, 'Partition size above which old segments go.'),
    entry('log.retention.ms', String(s.retentionMs), Type.Long, set, 'Age of a segment’s newest record when it goes.'),
    entry('log.segment.bytes', String(s.segmentBytes), Type.Int, set, 'Segment size at which a new segment file is started.'),
    entry('log.flush.interval.messages', flushMessages, Type.Long, set, 'fsync before acknowledging each produce (1) or not.'),
    entry('log.flush.interval.ms', flushMs, Type.Long, set, 'Period of the background fsync.'),
    entry('socket.request.max.bytes', String(s.maxFrameBytes), Type.Int, set, 'Largest request frame accepted.'),
    entry('group.min.session.timeout.ms', String(MIN_SESSION_TIMEOUT_MS), Type.Int, fixed, 'Smallest session timeout a member may ask for.'),
    entry('group.max.session.timeout.ms', String(MAX_SESSION_TIMEOUT_MS), Type.Int, fixed, 'Largest session timeout a member may ask for.'),
  ];
}

function describe(entries: Entry[], res: DescribeConfigsResource, req: DescribeConfigsRequest, forTopic: boolean): DescribedConfig[] {
  // Unknown keys are left out rather than failing the resource, as Kafka does.
  const wanted = res.keys === null ? entries : entries.filter((e) => res.keys!.includes(e.name));
  return wanted.map((e) => ({
    name: e.name,
    value: e.value,
    readOnly: true,
    source: e.source,
    isSensitive: false,
    synonyms: !req.includeSynonyms
      ? []
      : forTopic && e.brokerSynonym
        ? [{ name: e.brokerSynonym, value: e.value, source: e.source }]
        : [{ name: e.name, value: e.value, source: e.source }],
    type: e.type,
    documentation: req.includeDocumentation ? e.doc : null,
  }));
}

export function handleDescribeConfigs(ctx: BrokerContext, req: DescribeConfigsRequest): { results: DescribeConfigsResult[] } {
  return {
    results: req.resources.map((res): DescribeConfigsResult => {
      const base = { resourceType: res.resourceType, resourceName: res.resourceName, errorMessage: null, configs: [] };
      const fail = (errorCode: number, errorMessage: string): DescribeConfigsResult => ({ ...base, errorCode, errorMessage });
      switch (res.resourceType) {
        case ResourceType.Topic: {
          try {
            validateTopicName(res.resourceName);
          } catch (err) {
            return fail(codeOf(err), (err as Error).message);
          }
          if (!ctx.logs.partitions(res.resourceName)) {
            return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${res.resourceName} does not exist`);
          }
          return { ...base, errorCode: ErrorCode.NONE, configs: describe(topicEntries(ctx), res, req, true) };
        }
        case ResourceType.Broker:
          // '' means the cluster-wide defaults, which on a single broker are this broker's settings.
          if (res.resourceName !== '' && res.resourceName !== String(ctx.nodeId)) {
            return fail(ErrorCode.INVALID_REQUEST, `unexpected broker id ${res.resourceName}, expected ${ctx.nodeId} or an empty string`);
          }
          return { ...base, errorCode: ErrorCode.NONE, configs: describe(brokerEntries(ctx), res, req, false) };
        case ResourceType.BrokerLogger:
          return fail(ErrorCode.INVALID_REQUEST, 'broker loggers are not configurable here');
        default:
          return fail(ErrorCode.INVALID_REQUEST, `unknown resource type ${res.resourceType}`);
      }
    }),
  };
}
