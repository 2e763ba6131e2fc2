/**
 * DescribeConfigs (key 32), v0-v3 (v4 would be flexible).
 *
 * Request: resources [resource_type int8 resource_name string configuration_keys nullable [string]]
 *   include_synonyms bool (v1+) include_documentation bool (v3+)
 * Response: throttle_time_ms int32 results [error_code int16 error_message nullable_string
 *   resource_type int8 resource_name string configs [name string value nullable_string read_only bool
 *     is_default bool (v0 only) config_source int8 (v1+) is_sensitive bool
 *     synonyms [name string value nullable_string source int8] (v1+)
 *     config_type int8 (v3+) documentation nullable_string (v3+)]]
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface DescribeConfigsResource {
  resourceType: number;
  resourceName: string;
  /** null = every key. */
  keys: string[] | null;
}
export interface DescribeConfigsRequest {
  resources: DescribeConfigsResource[];
  includeSynonyms: boolean;
  includeDocumentation: boolean;
}
export interface ConfigSynonym {
  name: string;
  value: string | null;
  source: number;
}
export interface DescribedConfig {
  name: string;
  value: string | null;
  readOnly: boolean;
  source: number;
  isSensitive: boolean;
  synonyms: ConfigSynonym[];
  type: number;
  documentation: string | null;
}
export interface DescribeConfigsResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
  configs: DescribedConfig[];
}

/** ConfigSource values (KIP-226); v0 has only an is_default flag, true for DEFAULT_CONFIG. */
export const ConfigSource = { DynamicTopic: 1, DynamicBroker: 2, DynamicDefaultBroker: 3, StaticBroker: 4, Default: 5 } as const;

export const describeConfigs: ApiCodec<DescribeConfigsRequest, { results: DescribeConfigsResult[] }> = {
  apiKey: ApiKey.DescribeConfigs,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 3,
  decode(r, v) {
    const resources = r.array((r) => ({
      resourceType: r.int8(),
      resourceName: r.string(),
      keys: r.nullableArray((r) => r.string()),
    }));
    const includeSynonyms = v >= 1 ? r.bool() : false;
    const includeDocumentation = v >= 3 ? r.bool() : false;
    return { resources, includeSynonyms, includeDocumentation };
  },
  encode(w, v, res) {
    w.int32(0);
    w.array(res.results, (w, r) => {
      w.int16(r.errorCode).nullableString(r.errorMessage).int8(r.resourceType).string(r.resourceName);
      w.array(r.configs, (w, c) => {
        w.string(c.name).nullableString(c.value).bool(c.readOnly);
        if (v === 0) w.bool(c.source === ConfigSource.Default);
        else w.int8(c.source);
        w.bool(c.isSensitive);
        if (v >= 1) w.array(c.synonyms, (w, s) => w.string(s.name).nullableString(s.value).int8(s.source));
        if (v >= 3) w.int8(c.type).nullableString(c.documentation);
      });
    });
  },
};
