/**
 * CreateTopics (key 19), v0-v4.
 *
 * Request: topics [name string num_partitions int32 replication_factor int16
 *     assignments [partition_index int32 broker_ids [int32]] configs [name string value nullable_string]]
 *   timeout_ms int32 validate_only bool (v1+)
 * Response: throttle_time_ms int32 (v2+) topics [name string error_code int16 error_message nullable_string (v1+)]
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface CreatableTopic {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  assignments: { partitionIndex: number; brokerIds: number[] }[];
}
export interface CreateTopicsRequest {
  topics: CreatableTopic[];
  validateOnly: boolean;
}
export interface TopicResult {
  name: string;
  errorCode: number;
  errorMessage: string | null;
}

export const createTopics: ApiCodec<CreateTopicsRequest, { topics: TopicResult[] }> = {
  apiKey: ApiKey.CreateTopics,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 4,
  decode(r, v) {
    const topics = r.array((r) => {
      const t = {
        name: r.string(),
        numPartitions: r.int32(),
        replicationFactor: r.int16(),
        assignments: r.array((r) => ({ partitionIndex: r.int32(), brokerIds: r.array((r) => r.int32()) })),
      };
      r.array((r) => ({ name: r.string(), value: r.nullableString() }));
      return t;
    });
    r.int32();
    return { topics, validateOnly: v >= 1 ? r.bool() : false };
  },
  encode(w, v, res) {
    if (v >= 2) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name).int16(t.errorCode);
      if (v >= 1) w.nullableString(t.errorMessage);
    });
  },
};
