import { type Kafka, type Message, type Producer, type ProducerConfig, Partitioners } from 'kafkajs';
import type { Logger } from 'pino';
import type { AnyEvent, EventEnvelope } from '../contracts/envelope.js';
import { assertValidEvent } from '../contracts/create.js';
import { topicOf } from '../contracts/registry.js';
import { HEADERS } from '../contracts/topics.js';
import { EventError } from '../errors.js';

export interface EventProducer {
  /** Publishes the events (in order, per key) and resolves once every broker acknowledged them (acks=-1). */
  publish(events: AnyEvent | readonly AnyEvent[]): Promise<void>;
  /**
   * Sends records as they are (bytes, key, headers untouched): dead letters and their re-drive keep the
   * original record. Optional so test doubles of `EventProducer` need not implement it.
   */
  sendRecords?(topic: string, messages: Message[]): Promise<void>;
  close(): Promise<void>;
}

export interface CreateEventProducerOptions {
  kafka: Kafka;
  logger: Logger;
  /** Extra kafkajs producer settings, merged before the ones that make it idempotent (those always win). */
  producerConfig?: ProducerConfig;
}

/** The Kafka record of an event: key = `event.key`, value = the envelope as JSON, headers from the envelope. */
export function toRecord(event: EventEnvelope): Message {
  return {
    key: event.key,
    value: JSON.stringify(event),
    headers: {
      [HEADERS.eventId]: event.id,
      [HEADERS.eventType]: event.type,
      [HEADERS.eventVersion]: String(event.version),
      [HEADERS.correlationId]: event.correlationId,
      ...(event.causationId === null ? {} : { [HEADERS.causationId]: event.causationId }),
    },
  };
}

/**
 * Idempotent kafkajs producer (no duplicates or reordering on retries: `maxInFlightRequests: 1`), acks=-1.
 * Connects at creation so a misconfigured broker list fails at start, not at the first order.
 */
export async function createEventProducer(opts: CreateEventProducerOptions): Promise<EventProducer> {
  const log = opts.logger.child({ component: 'event-producer' });
  const producer: Producer = opts.kafka.producer({
    // The Java client's murmur2 partitioner (named here also to silence kafkajs' v2 migration warning).
    createPartitioner: Partitioners.DefaultPartitioner,
    ...opts.producerConfig,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  let closed = false;

  async function send(topicMessages: { topic: string; messages: Message[] }[]): Promise<void> {
    if (closed) throw new EventError('event producer is closed', { retriable: false });
    try {
      await producer.sendBatch({ topicMessages, acks: -1 });
    } catch (cause) {
      throw new EventError(`publish to ${topicMessages.map((t) => t.topic).join(', ')} failed: ${(cause as Error).message}`, {
        retriable: isRetriableSendError(cause),
        cause,
      });
    }
  }

  return {
    async publish(events) {
      const list: readonly AnyEvent[] = Array.isArray(events) ? events : [events as AnyEvent];
      if (list.length === 0) return;
      // Validate all before sending any: an invalid event never half-publishes a batch.
      for (const event of list) assertValidEvent(event);
      const byTopic = new Map<string, Message[]>();
      for (const event of list) {
        const topic = topicOf(event.type);
        const messages = byTopic.get(topic) ?? [];
        messages.push(toRecord(event));
        byTopic.set(topic, messages);
      }
      await send([...byTopic].map(([topic, messages]) => ({ topic, messages })));
      log.debug({ events: list.map((e) => ({ id: e.id, type: e.type, key: e.key })) }, 'published');
    },
    async sendRecords(topic, messages) {
      if (messages.length > 0) await send([{ topic, messages }]);
    },
    async close() {
      if (closed) return;
      closed = true;
      await producer.disconnect();
    },
  };
}

/** Broker errors that no retry fixes (the record itself is refused); anything else may be an outage. */
const NON_RETRIABLE_KAFKA_ERRORS = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_REQUIRED_ACKS',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'INVALID_TOPIC_EXCEPTION',
]);

function isRetriableSendError(err: unknown): boolean {
  for (let e = err as { type?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.type === 'string' && NON_RETRIABLE_KAFKA_ERRORS.has(e.type)) return false;
  }
  return true;
}
