// Malformed events, written straight to the topics with kafkajs, that every consumer must dead-letter
// (`<topic>.dlq`, original bytes kept) and go on. Each carries the run id so its bytes are unique to a run.
import { createHash, randomUUID } from 'node:crypto';
import type { Kafka, Message, Producer } from 'kafkajs';
import type { InjectedPoison } from './invariants.js';

export interface Poison {
  readonly label: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers?: Record<string, string>;
}

/** A type the topic carries, for poison that is right about everything but its payload or version. */
const TYPE_OF_TOPIC: Record<string, string> = {
  'shop.orders': 'OrderPlaced',
  'shop.payments': 'PaymentAuthorized',
  'shop.inventory': 'ProductRestocked',
};

function envelope(runId: string, type: string, version: number, payload: unknown, extra: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    type,
    version,
    occurredAt: new Date().toISOString(),
    correlationId: `chaos-${runId}`,
    causationId: null,
    key: `poison-${runId}`,
    payload,
    ...extra,
  };
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/**
 * The catalogue. `basic` is what the fault scenario injects while orders flow; the full list (hostile
 * input) adds a tombstone, an oversized record, deep nesting, a prototype-pollution attempt and lying headers.
 */
export function poisonCatalogue(topic: string, runId: string, kind: 'basic' | 'hostile'): Poison[] {
  const type = TYPE_OF_TOPIC[topic] ?? 'OrderPlaced';
  const key = `poison-${runId}`;
  const garbage = createHash('sha512').update(`${runId}:${topic}`).digest();
  const basic: Poison[] = [
    { label: 'not JSON', key, value: Buffer.from(`{"id": "${runId}", this is not json`) },
    { label: 'binary garbage', key, value: Buffer.concat([Buffer.from([0xff, 0xfe, 0x00]), garbage]) },
    { label: 'JSON array', key, value: json([runId, 1, 2, 3]) },
    { label: 'envelope missing fields', key, value: json({ id: randomUUID(), type, note: runId }) },
    { label: 'unknown event type', key, value: json(envelope(runId, 'ChaosMonkeyAteIt', 1, { runId })) },
    { label: 'unsupported version', key, value: json(envelope(runId, type, 99, { runId })) },
    { label: 'payload of the wrong shape', key, value: json(envelope(runId, type, 1, { orderId: 12345, productId: ['x'], quantity: 'lots', runId })) },
  ];
  if (kind === 'basic') return basic;
  let deep = `"${runId}"`;
  for (let i = 0; i < 5_000; i++) deep = `[${deep}]`;
  return [
    ...basic,
    { label: 'tombstone (null value)', key: `${key}-tombstone`, value: null },
    { label: 'empty value', key, value: Buffer.alloc(0) },
    { label: 'oversized (256 KiB)', key, value: json(envelope(runId, type, 1, { pad: 'x'.repeat(256 * 1024) })) },
    { label: 'deeply nested JSON', key, value: Buffer.from(deep) },
    { label: 'prototype pollution', key, value: Buffer.from(`{"__proto__":{"polluted":"${runId}"},"constructor":{"prototype":{"polluted":true}},"type":"${type}"}`) },
    {
      label: 'headers lie (valid-looking headers, garbage body)',
      key,
      value: Buffer.from(`garbage-${runId}`),
      headers: { 'x-event-id': randomUUID(), 'x-event-type': type, 'x-event-version': '1' },
    },
    { label: 'null bytes and invalid UTF-8', key, value: Buffer.concat([Buffer.from(`{"id":"${runId}`), Buffer.from([0x00, 0xc3, 0x28, 0xa0, 0xa1]), Buffer.from('"}')]) },
  ];
}

/** Writes each poison (acks=-1) and returns what was injected, for `checkDeadLetters`. */
export async function injectPoison(producer: Producer, topic: string, poisons: readonly Poison[]): Promise<InjectedPoison[]> {
  const messages: Message[] = poisons.map((p) => ({ key: p.key, value: p.value, ...(p.headers ? { headers: p.headers } : {}) }));
  await producer.send({ topic, messages, acks: -1 });
  return poisons.map((p) => {
    const claimedType = p.headers?.['x-event-type'];
    return { topic, label: p.label, value: p.value === null ? null : new Uint8Array(p.value), ...(claimedType ? { claimedType } : {}) };
  });
}

/** A plain kafkajs producer for the tests (not the services' idempotent one: poison must go in as is). */
export async function poisonProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  return producer;
}
