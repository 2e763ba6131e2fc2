/**
 * ListOffsets (key 2), v0-v5.
 *
 * Request: replica_id int32 isolation_level int8 (v2+)
 *   topics [name string partitions [partition_index int32 current_leader_epoch int32 (v4+)
 *     timestamp int64 max_num_offsets int32 (v0 only)]]
 * Response v0: topics [name string partitions [partition_index int32 error_code int16 old_style_offsets [int64]]]
 * Response v1+: throttle_time_ms int32 (v2+) topics [name string partitions [partition_index int32
 *   error_code int16 timestamp int64 offset int64 leader_epoch int32 (v4+)]]
 *
 * timestamp -1 = latest (high watermark), -2 = earliest (log start offset), else the first offset
 * whose record timestamp is >= it.
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface ListOffsetsRequest {
  topics: { name: string; partitions: { partitionIndex: number; timestamp: number }[] }[];
}
export interface ListOffsetsPartition {
  partitionIndex: number;
  errorCode: number;
  timestamp: number;
  offset: number;
}
export interface ListOffsetsResponse {
  topics: { name: string; partitions: ListOffsetsPartition[] }[];
}

export const listOffsets: ApiCodec<ListOffsetsRequest, ListOffsetsResponse> = {
  apiKey: ApiKey.ListOffsets,
  name: 'ListOffsets',
  minVersion: 0,
  maxVersion: 5,
  decode(r, v) {
    r.int32();
    if (v >= 2) r.int8();
    return {
      topics: r.array((r) => ({
        name: r.string(),
        partitions: r.array((r) => {
          const partitionIndex = r.int32();
          if (v >= 4) r.int32();
          const timestamp = r.int64();
          if (v === 0) r.int32();
          return { partitionIndex, timestamp };
        }),
      })),
    };
  },
  encode(w, v, res) {
    if (v >= 2) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partitionIndex).int16(p.errorCode);
        if (v === 0) {
          w.array(p.offset >= 0 ? [p.offset] : [], (w, o) => w.int64(o));
          return;
        }
        w.int64(p.timestamp).int64(p.offset);
        if (v >= 4) w.int32(0);
      });
    });
  },
};
