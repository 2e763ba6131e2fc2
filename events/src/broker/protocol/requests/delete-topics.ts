/**
 * DeleteTopics (key 20), v0-v3.
 *
 * Request: topic_names [string] timeout_ms int32
 * Response: throttle_time_ms int32 (v1+) responses [name string error_code int16]
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface DeleteTopicsResponse {
  topics: { name: string; errorCode: number }[];
}

export const deleteTopics: ApiCodec<{ topicNames: string[] }, DeleteTopicsResponse> = {
  apiKey: ApiKey.DeleteTopics,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 3,
  decode(r) {
    const topicNames = r.array((r) => r.string());
    r.int32();
    return { topicNames };
  },
  encode(w, v, res) {
    if (v >= 1) w.int32(0);
    w.array(res.topics, (w, t) => w.string(t.name).int16(t.errorCode));
  },
};
