/**
 * CreatePartitions (key 37), v0-v1.
 *
 * Request: topics [name string count int32 assignments nullable [broker_ids [int32]]]
 *   timeout_ms int32 validate_only bool
 * Response: throttle_time_ms int32 results [name string error_code int16 error_message nullable_string]
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';
import type { TopicResult } from './create-topics.js';

export interface CreatePartitionsRequest {
  topics: { name: string; count: number }[];
  validateOnly: boolean;
}

export const createPartitions: ApiCodec<CreatePartitionsRequest, { results: TopicResult[] }> = {
  apiKey: ApiKey.CreatePartitions,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 1,
  decode(r) {
    const topics = r.array((r) => {
      const t = { name: r.string(), count: r.int32() };
      r.nullableArray((r) => r.array((r) => r.int32()));
      return t;
    });
    r.int32();
    return { topics, validateOnly: r.bool() };
  },
  encode(w, _v, res) {
    w.int32(0);
    w.array(res.results, (w, t) => w.string(t.name).int16(t.errorCode).nullableString(t.errorMessage));
  },
};
