/**
 * OffsetDelete (key 47), v0 (KIP-496).
 *
 * Request: group_id string topics [name string partitions [partition_index int32]]
 * Response: error_code int16 throttle_time_ms int32 topics [name string partitions [partition_index int32 error_code int16]]
 *
 * A group-level error (unknown group, group in use with another protocol) is the top-level code with no topics.
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface OffsetDeleteRequest {
  groupId: string;
  topics: { name: string; partitions: number[] }[];
}
export interface OffsetDeleteResponse {
  errorCode: number;
  topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[];
}

export const offsetDelete: ApiCodec<OffsetDeleteRequest, OffsetDeleteResponse> = {
  apiKey: ApiKey.OffsetDelete,
  name: 'OffsetDelete',
  minVersion: 0,
  maxVersion: 0,
  decode(r) {
    return { groupId: r.string(), topics: r.array((r) => ({ name: r.string(), partitions: r.array((r) => r.int32()) })) };
  },
  encode(w, _v, res) {
    w.int16(res.errorCode).int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name).array(t.partitions, (w, p) => w.int32(p.partitionIndex).int16(p.errorCode));
    });
  },
};
