/**
 * JoinGroup (key 11), v0-v5.
 *
 * Request: group_id string session_timeout_ms int32 rebalance_timeout_ms int32 (v1+)
 *   member_id string group_instance_id nullable_string (v5+) protocol_type string
 *   protocols [name string metadata bytes]
 * Response: throttle_time_ms int32 (v2+) error_code int16 generation_id int32 protocol_name string
 *   leader string member_id string members [member_id string group_instance_id nullable_string (v5+)
 *   metadata bytes]
 *
 * From v4 a join with an empty member id is answered MEMBER_ID_REQUIRED carrying the generated id
 * (KIP-394), so a client that dies between join and rejoin leaves no phantom member behind.
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
}
export interface JoinGroupResponse {
  errorCode: number;
  generationId: number;
  protocolName: string;
  leader: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export const joinGroup: ApiCodec<JoinGroupRequest, JoinGroupResponse> = {
  apiKey: ApiKey.JoinGroup,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 5,
  decode(r, v) {
    const groupId = r.string();
    const sessionTimeoutMs = r.int32();
    const rebalanceTimeoutMs = v >= 1 ? r.int32() : sessionTimeoutMs;
    const memberId = r.string();
    const groupInstanceId = v >= 5 ? r.nullableString() : null;
    const protocolType = r.string();
    const protocols = r.array((r) => ({ name: r.string(), metadata: Buffer.from(r.bytes()) }));
    return { groupId, sessionTimeoutMs, rebalanceTimeoutMs, memberId, groupInstanceId, protocolType, protocols };
  },
  encode(w, v, res) {
    if (v >= 2) w.int32(0);
    w.int16(res.errorCode).int32(res.generationId).string(res.protocolName).string(res.leader).string(res.memberId);
    w.array(res.members, (w, m) => {
      w.string(m.memberId);
      if (v >= 5) w.nullableString(m.groupInstanceId);
      w.bytes(m.metadata);
    });
  },
};
