/**
 * OffsetFetch (key 9), v1-v5 (v0 read offsets from ZooKeeper, which this broker never had).
 *
 * Request: group_id string topics [name string partition_indexes [int32]] (nullable from v2: all)
 * Response: throttle_time_ms int32 (v3+) topics [name string partitions [partition_index int32
 *     committed_offset int64 committed_leader_epoch int32 (v5+) metadata nullable_string error_code int16]]
 *   error_code int16 (v2+)
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface OffsetFetchRequest {
  groupId: string;
  topics: { name: string; partitionIndexes: number[] }[] | null;
}
export interface OffsetFetchPartition {
  partitionIndex: number;
  offset: number;
  metadata: string | null;
  errorCode: number;
}
export interface OffsetFetchResponse {
  errorCode: number;
  topics: { name: string; partitions: OffsetFetchPartition[] }[];
}

export const offsetFetch: ApiCodec<OffsetFetchRequest, OffsetFetchResponse> = {
  apiKey: ApiKey.OffsetFetch,
  name: 'OffsetFetch',
  minVersion: 1,
  maxVersion: 5,
  decode(r) {
    return {
      groupId: r.string(),
      topics: r.nullableArray((r) => ({ name: r.string(), partitionIndexes: r.array((r) => r.int32()) })),
    };
  },
  encode(w, v, res) {
    if (v >= 3) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partitionIndex).int64(p.offset);
        if (v >= 5) w.int32(-1);
        w.nullableString(p.metadata).int16(p.errorCode);
      });
    });
    if (v >= 2) w.int16(res.errorCode);
  },
};
