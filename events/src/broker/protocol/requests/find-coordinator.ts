/**
 * FindCoordinator (key 10), v0-v2.
 *
 * Request: key string key_type int8 (v1+; 0 group, 1 transaction)
 * Response: throttle_time_ms int32 (v1+) error_code int16 error_message nullable_string (v1+)
 *   node_id int32 host string port int32
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface FindCoordinatorRequest {
  key: string;
  keyType: number;
}
export interface FindCoordinatorResponse {
  errorCode: number;
  errorMessage?: string | null;
  nodeId: number;
  host: string;
  port: number;
}

export const findCoordinator: ApiCodec<FindCoordinatorRequest, FindCoordinatorResponse> = {
  apiKey: ApiKey.FindCoordinator,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 2,
  decode(r, v) {
    return { key: r.string(), keyType: v >= 1 ? r.int8() : 0 };
  },
  encode(w, v, res) {
    if (v >= 1) w.int32(0);
    w.int16(res.errorCode);
    if (v >= 1) w.nullableString(res.errorMessage ?? null);
    w.int32(res.nodeId).string(res.host).int32(res.port);
  },
};
