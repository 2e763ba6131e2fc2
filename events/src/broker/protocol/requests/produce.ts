/**
 * Produce (key 0), v3-v8 (v3 is the first with record batch v2; v9 would be flexible).
 *
 * Request: transactional_id nullable_string acks int16 timeout_ms int32
 *   topic_data [name string partition_data [index int32 records nullable_bytes]]
 * Response: responses [name string partition_responses [index int32 error_code int16
 *     base_offset int64 log_append_time_ms int64 log_start_offset int64 (v5+)
 *     record_errors [batch_index int32 batch_index_error_message nullable_string] (v8+)
 *     error_message nullable_string (v8+)]]
 *   throttle_time_ms int32
 *
 * acks=0 gets no response at all; the connection skips the encode.
 *
 * ApiVersions nevertheless lists Produce from v0, as Kafka 4 does (KAFKA-18659): librdkafka checks
 * gzip/snappy/lz4 support by asking whether the broker accepts Produce v0, and with min 3 it silently
 * sends those batches uncompressed. A v0-v2 request itself is never decoded: it closes the connection.
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topics: { name: string; partitions: { index: number; records: Buffer | null }[] }[];
}
export interface ProducePartitionResponse {
  index: number;
  errorCode: number;
  baseOffset: number;
  logStartOffset: number;
  errorMessage?: string | null;
}
export interface ProduceResponse {
  topics: { name: string; partitions: ProducePartitionResponse[] }[];
}

export const produce: ApiCodec<ProduceRequest, ProduceResponse> = {
  apiKey: ApiKey.Produce,
  name: 'Produce',
  minVersion: 3,
  maxVersion: 8,
  advertisedMinVersion: 0,
  decode(r) {
    return {
      transactionalId: r.nullableString(),
      acks: r.int16(),
      timeoutMs: r.int32(),
      topics: r.array((r) => ({
        name: r.string(),
        partitions: r.array((r) => ({ index: r.int32(), records: r.nullableBytes() })),
      })),
    };
  },
  encode(w, v, res) {
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.index).int16(p.errorCode).int64(p.baseOffset).int64(-1);
        if (v >= 5) w.int64(p.logStartOffset);
        if (v >= 8) w.array([], () => {}).nullableString(p.errorMessage ?? null);
      });
    });
    w.int32(0);
  },
};
