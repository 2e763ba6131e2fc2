/**
 * DescribeGroups (key 15), v0-v4.
 *
 * Request: groups [string] include_authorized_operations bool (v3+)
 * Response: throttle_time_ms int32 (v1+) groups [error_code int16 group_id string group_state string
 *   protocol_type string protocol_data string members [member_id string
 *   group_instance_id nullable_string (v4+) client_id string client_host string member_metadata bytes
 *   member_assignment bytes] authorized_operations int32 (v3+)]
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface DescribedMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  metadata: Buffer;
  assignment: Buffer;
}
export interface DescribedGroup {
  errorCode: number;
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: DescribedMember[];
}

export const describeGroups: ApiCodec<{ groups: string[] }, { groups: DescribedGroup[] }> = {
  apiKey: ApiKey.DescribeGroups,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 4,
  decode(r, v) {
    const groups = r.array((r) => r.string());
    if (v >= 3) r.bool();
    return { groups };
  },
  encode(w, v, res) {
    if (v >= 1) w.int32(0);
    w.array(res.groups, (w, g) => {
      w.int16(g.errorCode).string(g.groupId).string(g.state).string(g.protocolType).string(g.protocol);
      w.array(g.members, (w, m) => {
        w.string(m.memberId);
        if (v >= 4) w.nullableString(m.groupInstanceId);
        w.string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment);
      });
      if (v >= 3) w.int32(-2147483648);
    });
  },
};
