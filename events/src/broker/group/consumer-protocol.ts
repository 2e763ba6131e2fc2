/**
 * The "consumer" embedded protocol's subscription (the metadata members put in JoinGroup), read only
 * as far as the subscribed topic names: version int16, topics [string], then fields this broker
 * ignores (user data, owned partitions, rack). Kafka's coordinator reads it for the same reason:
 * OffsetDelete must refuse to drop offsets of a topic the group is still consuming.
 */
import { Reader } from '../protocol/reader.js';

export const CONSUMER_PROTOCOL_TYPE = 'consumer';

/** Topics named in a subscription, or null when the bytes are not a subscription. */
export function subscribedTopics(metadata: Buffer): string[] | null {
  try {
    const r = new Reader(metadata);
    if (r.int16() < 0) return null;
    return r.array((r) => r.string());
  } catch {
    return null;
  }
}
