/**
 * ListGroups (key 16), v0-v2.
 *
 * Request: (empty)
 * Response: throttle_time_ms int32 (v1+) error_code int16 groups [group_id string protocol_type string]
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface ListGroupsResponse {
  errorCode: number;
  groups: { groupId: string; protocolType: string }[];
}

export const listGroups: ApiCodec<Record<string, never>, ListGroupsResponse> = {
  apiKey: ApiKey.ListGroups,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 2,
  decode() {
    return {};
  },
  encode(w, v, res) {
    if (v >= 1) w.int32(0);
    w.int16(res.errorCode).array(res.groups, (w, g) => w.string(g.groupId).string(g.protocolType));
  },
};
