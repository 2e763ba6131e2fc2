import { createHash, randomUUID } from 'node:crypto';
import { EventContractError } from '../errors.js';
import { EnvelopeSchema, type EventEnvelope } from './envelope.js';
import { parseEvent, formatIssues, validatePayload } from './parse.js';
import { type EventType, type PayloadOf, definitionOf, isEventType, latestVersion } from './registry.js';

export interface EventMeta {
  /** The record key: the aggregate id (orderId, productId); keeps one aggregate's events in order. */
  key: string;
  correlationId: string;
  /** The event or request this one answers; default `null`. */
  causationId?: string | null;
  /** Default `randomUUID()`; pass `deterministicEventId(...)` so a re-run handler emits the same id. */
  id?: string;
  /** ISO-8601 UTC; default now. */
  occurredAt?: string;
}

/**
 * Builds an envelope at the latest version; validates the payload and the metadata, and that `meta.key` is the
 * aggregate id the event's topic is keyed by (throws EventContractError).
 */
export function createEvent<T extends EventType>(type: T, payload: PayloadOf<T>, meta: EventMeta): EventEnvelope<T> {
  if (!isEventType(type)) throw new EventContractError(`unknown event type "${String(type)}"`, { eventType: String(type) });
  const version = latestVersion(type);
  const parsedPayload = validatePayload(type, version, payload);
  const envelope = {
    id: meta.id ?? randomUUID(),
    type,
    version,
    occurredAt: meta.occurredAt ?? new Date().toISOString(),
    correlationId: meta.correlationId,
    causationId: meta.causationId ?? null,
    key: meta.key,
    payload: parsedPayload,
  };
  // The key decides the partition, hence the order: an event keyed by anything but its aggregate id
  // could overtake its predecessors.
  const keyField = definitionOf(type).key;
  const aggregateId = (parsedPayload as Record<string, unknown>)[keyField];
  if (meta.key !== aggregateId) {
    throw new EventContractError(`${type} must be keyed by payload.${keyField} (${JSON.stringify(aggregateId)}), got key ${JSON.stringify(meta.key)}`, {
      eventType: type,
      eventVersion: version,
      path: 'key',
    });
  }
  const checked = EnvelopeSchema.safeParse(envelope);
  if (!checked.success) {
    throw new EventContractError(`invalid ${type} metadata: ${formatIssues(checked.error.issues)}`, {
      eventType: type,
      eventVersion: version,
      path: checked.error.issues[0]?.path.map(String).join('.'),
    });
  }
  const event = Object.freeze(envelope) as EventEnvelope<T>;
  built.add(event);
  return event;
}

/**
 * Events `createEvent` built and checked. They are frozen, so they are still valid when published, and the
 * producer need not run every schema a second time.
 */
const built = new WeakSet<object>();

/** Re-validates an event built elsewhere (e.g. by hand in a test) before it is published. */
export function assertValidEvent(event: EventEnvelope): void {
  if (!built.has(event)) parseEvent(event);
}

/**
 * A deterministic event id: the UUID-shaped (version 8, RFC 9562 "custom") first 128 bits of the sha-256
 * of its parts, so a handler that runs again for the same input emits the same id, and consumers dedupe it.
 * Parts are length-prefixed so `('ab', 'c')` and `('a', 'bc')` differ.
 */
export function deterministicEventId(...parts: string[]): string {
  if (parts.length === 0) throw new TypeError('deterministicEventId needs at least one part');
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${Buffer.byteLength(part)}:${part};`);
  const bytes = hash.digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122/9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
