/**
 * Metadata (key 3), v0-v8.
 *
 * Request: topics [name string] (nullable from v1: null = all; v0 empty = all)
 *   allow_auto_topic_creation bool (v4+)
 *   include_cluster_authorized_operations bool, include_topic_authorized_operations bool (v8+)
 * Response: throttle_time_ms int32 (v3+)
 *   brokers [node_id int32 host string port int32 rack nullable_string (v1+)]
 *   cluster_id nullable_string (v2+) controller_id int32 (v1+)
 *   topics [error_code int16 name string is_internal bool (v1+)
 *     partitions [error_code int16 partition_index int32 leader_id int32 leader_epoch int32 (v7+)
 *       replica_nodes [int32] isr_nodes [int32] offline_replicas [int32] (v5+)]
 *     topic_authorized_operations int32 (v8+)]
 *   cluster_authorized_operations int32 (v8+)
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface MetadataRequest {
  topics: string[] | null;
  allowAutoTopicCreation: boolean;
}
export interface MetadataPartition {
  errorCode: number;
  partitionIndex: number;
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
}
export interface MetadataTopic {
  errorCode: number;
  name: string;
  partitions: MetadataPartition[];
}
export interface MetadataResponse {
  brokers: { nodeId: number; host: string; port: number }[];
  clusterId: string;
  controllerId: number;
  topics: MetadataTopic[];
}

/** -2^31: "authorized operations not requested/unknown" per KIP-430. */
const OPS_UNKNOWN = -2147483648;

export const metadata: ApiCodec<MetadataRequest, MetadataResponse> = {
  apiKey: ApiKey.Metadata,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 8,
  decode(r, v) {
    let topics = r.nullableArray((r) => r.string());
    if (v === 0 && topics?.length === 0) topics = null;
    const allowAutoTopicCreation = v >= 4 ? r.bool() : true;
    if (v >= 8) {
      r.bool();
      r.bool();
    }
    return { topics, allowAutoTopicCreation };
  },
  encode(w, v, res) {
    if (v >= 3) w.int32(0);
    w.array(res.brokers, (w, b) => {
      w.int32(b.nodeId).string(b.host).int32(b.port);
      if (v >= 1) w.nullableString(null);
    });
    if (v >= 2) w.nullableString(res.clusterId);
    if (v >= 1) w.int32(res.controllerId);
    w.array(res.topics, (w, t) => {
      w.int16(t.errorCode).string(t.name);
      if (v >= 1) w.bool(false);
      w.array(t.partitions, (w, p) => {
        w.int16(p.errorCode).int32(p.partitionIndex).int32(p.leaderId);
        if (v >= 7) w.int32(p.leaderEpoch);
        w.array(p.replicas, (w, n) => w.int32(n));
        w.array(p.replicas, (w, n) => w.int32(n));
        if (v >= 5) w.array([], () => {});
      });
      if (v >= 8) w.int32(OPS_UNKNOWN);
    });
    if (v >= 8) w.int32(OPS_UNKNOWN);
  },
};
