/**
 * InitProducerId (key 22), v0-v1. Only the idempotent (non-transactional) producer is supported: a
 * transactional_id is refused, since the transaction APIs are not advertised.
 *
 * Request: transactional_id nullable_string transaction_timeout_ms int32
 * Response: throttle_time_ms int32 error_code int16 producer_id int64 producer_epoch int16
 */
import { ApiKey } from '../api-keys.js';
import type { ApiCodec } from './codec.js';

export interface InitProducerIdResponse {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

export const initProducerId: ApiCodec<{ transactionalId: string | null }, InitProducerIdResponse> = {
  apiKey: ApiKey.InitProducerId,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 1,
  decode(r) {
    const transactionalId = r.nullableString();
    r.int32();
    return { transactionalId };
  },
  encode(w, _v, res) {
    w.int32(0).int16(res.errorCode).int64(res.producerId).int16(res.producerEpoch);
  },
};
