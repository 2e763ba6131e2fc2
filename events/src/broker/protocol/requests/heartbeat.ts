/**
 * Heartbeat (key 12), v0-v3.
 *
 * Request: group_id string generation_id int32 member_id string group_instance_id nullable_string (v3+)
 * Response: throttle_time_ms int32 (v1+) error_code int16
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
}

export const heartbeat: ApiCodec<HeartbeatRequest, { errorCode: number }> = {
  apiKey: ApiKey.Heartbeat,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 3,
  decode(r, v) {
    const req = { groupId: r.string(), generationId: r.int32(), memberId: r.string() };
    if (v >= 3) r.nullableString();
    return req;
  },
  encode(w, v, res) {
    if (v >= 1) w.int32(0);
    w.int16(res.errorCode);
  },
};
