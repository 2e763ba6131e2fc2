/**
 * Fetch (key 1), v4-v11 (v4 is the first with last_stable_offset/aborted_transactions, which record
 * batch v2 readers expect; v12 would be flexible).
 *
 * Request: replica_id int32 max_wait_ms int32 min_bytes int32 max_bytes int32 isolation_level int8
 *   session_id int32 (v7+) session_epoch int32 (v7+)
 *   topics [topic string partitions [partition int32 current_leader_epoch int32 (v9+)
 *     fetch_offset int64 log_start_offset int64 (v5+) partition_max_bytes int32]]
 *   forgotten_topics_data [topic string partitions [int32]] (v7+)
 *   rack_id string (v11+)
 * Response: throttle_time_ms int32 error_code int16 (v7+) session_id int32 (v7+)
 *   responses [topic string partitions [partition_index int32 error_code int16 high_watermark int64
 *     last_stable_offset int64 log_start_offset int64 (v5+)
 *     aborted_transactions [producer_id int64 first_offset int64] (nullable)
 *     preferred_read_replica int32 (v11+) records nullable_bytes]]
 *
 * Incremental fetch sessions (KIP-227) are not offered: every response carries session_id 0, which
 * tells clients to keep sending full fetch requests.
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface FetchPartitionRequest {
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
}
export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  sessionId: number;
  sessionEpoch: number;
  topics: { topic: string; partitions: FetchPartitionRequest[] }[];
}
export interface FetchPartitionResponse {
  partition: number;
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer[];
}
export interface FetchResponse {
  errorCode: number;
  topics: { topic: string; partitions: FetchPartitionResponse[] }[];
}

export const fetch: ApiCodec<FetchRequest, FetchResponse> = {
  apiKey: ApiKey.Fetch,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 11,
  decode(r, v) {
    r.int32();
    const maxWaitMs = r.int32();
    const minBytes = r.int32();
    const maxBytes = r.int32();
    r.int8();
    const sessionId = v >= 7 ? r.int32() : 0;
    const sessionEpoch = v >= 7 ? r.int32() : -1;
    const topics = r.array((r) => ({
      topic: r.string(),
      partitions: r.array((r) => {
        const partition = r.int32();
        if (v >= 9) r.int32();
        const fetchOffset = r.int64();
        if (v >= 5) r.int64();
        return { partition, fetchOffset, partitionMaxBytes: r.int32() };
      }),
    }));
    if (v >= 7) r.array((r) => ({ topic: r.string(), partitions: r.array((r) => r.int32()) }));
    if (v >= 11) r.string();
    return { maxWaitMs, minBytes, maxBytes, sessionId, sessionEpoch, topics };
  },
  encode(w, v, res) {
    w.int32(0);
    if (v >= 7) w.int16(res.errorCode).int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.topic);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark).int64(p.highWatermark);
        if (v >= 5) w.int64(p.logStartOffset);
        w.array([], () => {});
        if (v >= 11) w.int32(-1);
        w.bytesChunks(p.records);
      });
    });
  },
};
