/**
 * ApiVersions (key 18), v0-v3.
 *
 * Request v0-v2: (empty)
 * Request v3 (flexible, header v2): client_software_name compact_string
 *   client_software_version compact_string _tagged_fields
 * Response v0: error_code int16 api_keys [api_key int16 min_version int16 max_version int16]
 * Response v1-v2: v0 + throttle_time_ms int32
 * Response v3: error_code int16 api_keys compact[api_key min_version max_version _tagged_fields]
 *   throttle_time_ms int32 _tagged_fields
 *
 * The response header is always v0 (no tagged fields), even for v3 (KIP-511), and a request for a
 * version the broker does not know gets UNSUPPORTED_VERSION in the v0 body so any client can read it.
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface ApiVersionsRequest {
  clientSoftwareName?: string;
  clientSoftwareVersion?: string;
}
export interface ApiVersionRange {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}
export interface ApiVersionsResponse {
  errorCode: number;
  apiKeys: ApiVersionRange[];
}

export const apiVersions: ApiCodec<ApiVersionsRequest, ApiVersionsResponse> = {
  apiKey: ApiKey.ApiVersions,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  decode(r, v) {
    if (v < 3) return {};
    const req = { clientSoftwareName: r.compactString(), clientSoftwareVersion: r.compactString() };
    r.taggedFields();
    return req;
  },
  encode(w, v, res) {
    w.int16(res.errorCode);
    if (v >= 3) {
      w.compactArray(res.apiKeys, (w, k) => w.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion).emptyTaggedFields());
      w.int32(0).emptyTaggedFields();
      return;
    }
    w.array(res.apiKeys, (w, k) => w.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion));
    if (v >= 1) w.int32(0);
  },
};
