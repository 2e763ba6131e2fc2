/**
 * SyncGroup (key 14), v0-v3.
 *
 * Request: group_id string generation_id int32 member_id string group_instance_id nullable_string (v3+)
 *   assignments [member_id string assignment bytes]
 * Response: throttle_time_ms int32 (v1+) error_code int16 assignment bytes
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  assignments: { memberId: string; assignment: Buffer }[];
}
export interface SyncGroupResponse {
  errorCode: number;
  assignment: Buffer;
}

export const syncGroup: ApiCodec<SyncGroupRequest, SyncGroupResponse> = {
  apiKey: ApiKey.SyncGroup,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 3,
  decode(r, v) {
    const groupId = r.string();
    const generationId = r.int32();
    const memberId = r.string();
    if (v >= 3) r.nullableString();
    const assignments = r.array((r) => ({ memberId: r.string(), assignment: Buffer.from(r.bytes()) }));
    return { groupId, generationId, memberId, assignments };
  },
  encode(w, v, res) {
    if (v >= 1) w.int32(0);
    w.int16(res.errorCode).bytes(res.assignment);
  },
};
