/**
 * LeaveGroup (key 13), v0-v2.
 *
 * Request: group_id string member_id string
 * Response: throttle_time_ms int32 (v1+) error_code int16
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface LeaveGroupRequest {
  groupId: string;
  memberId: string;
}

export const leaveGroup: ApiCodec<LeaveGroupRequest, { errorCode: number }> = {
  apiKey: ApiKey.LeaveGroup,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 2,
  decode(r) {
    return { groupId: r.string(), memberId: r.string() };
  },
  encode(w, v, res) {
    if (v >= 1) w.int32(0);
    w.int16(res.errorCode);
  },
};
