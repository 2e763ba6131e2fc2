/**
 * OffsetCommit (key 8), v0-v7.
 *
 * Request: group_id string generation_id int32 (v1+) member_id string (v1+)
 *   group_instance_id nullable_string (v7+) retention_time_ms int64 (v2-v4)
 *   topics [name string partitions [partition_index int32 committed_offset int64
 *     committed_leader_epoch int32 (v6+) commit_timestamp int64 (v1 only) committed_metadata nullable_string]]
 * Response: throttle_time_ms int32 (v3+) topics [name string partitions [partition_index int32 error_code int16]]
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface OffsetCommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  topics: { name: string; partitions: { partitionIndex: number; offset: number; metadata: string | null }[] }[];
}
export interface OffsetCommitResponse {
  topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[];
}

export const offsetCommit: ApiCodec<OffsetCommitRequest, OffsetCommitResponse> = {
  apiKey: ApiKey.OffsetCommit,
  name: 'OffsetCommit',
  minVersion: 0,
  maxVersion: 7,
  decode(r, v) {
    const groupId = r.string();
    const generationId = v >= 1 ? r.int32() : -1;
    const memberId = v >= 1 ? r.string() : '';
    if (v >= 7) r.nullableString();
    if (v >= 2 && v <= 4) r.int64();
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => {
        const partitionIndex = r.int32();
        const offset = r.int64();
        if (v >= 6) r.int32();
        if (v === 1) r.int64();
        return { partitionIndex, offset, metadata: r.nullableString() };
      }),
    }));
    return { groupId, generationId, memberId, topics };
  },
  encode(w, v, res) {
    if (v >= 3) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.partitionIndex).int16(p.errorCode));
    });
  },
};
