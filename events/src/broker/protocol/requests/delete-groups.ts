/**
 * DeleteGroups (key 42), v0-v1 (v2 would be flexible).
 *
 * Request: groups_names [string]
 * Response: throttle_time_ms int32 results [group_id string error_code int16]
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface DeleteGroupsResponse {
  results: { groupId: string; errorCode: number }[];
}

export const deleteGroups: ApiCodec<{ groupIds: string[] }, DeleteGroupsResponse> = {
  apiKey: ApiKey.DeleteGroups,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 1,
  decode(r) {
    return { groupIds: r.array((r) => r.string()) };
  },
  encode(w, _v, res) {
    w.int32(0).array(res.results, (w, g) => w.string(g.groupId).int16(g.errorCode));
  },
};
