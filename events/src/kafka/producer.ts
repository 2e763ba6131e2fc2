import { type Kafka, type Message, type Producer, type ProducerConfig, Partitioners } from 'kafkajs';
import type { Logger } from 'pino';
import type { AnyEvent, EventEnvelope } from '../contracts/envelope.js';
import { assertValidEvent } from '../contracts/create.js';
import { topicOf } from '../contracts/registry.js';
import { HEADERS } from '../contracts/topics.js';
import { EventError, isRetriable } from '../errors.js';
import { emitContextOf, failSpan, SpanKind, startSpan, trace, traceFields, type Span } from '../tracing.js';
import type { Attributes } from '@opentelemetry/api';

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

/**
 * The Kafka record of an event: key = `event.key`, value = the envelope as JSON, headers from the envelope
 * (and `trace`: the W3C trace context of its publish span, when traced).
 */
export function toRecord(event: EventEnvelope, trace: Readonly<Record<string, string>> = {}): Message {
  return {
    key: event.key,
    value: JSON.stringify(event),
    headers: {
      ...trace,
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
 *
 * Sends are coalesced: while one produce request is in flight, every `publish`/`sendRecords` call queues,
 * and the next request carries all of them, in call order (the group commit of databases, Kafka's
 * `linger.ms` without the wait). With one request in flight at a time this costs no latency at low load and
 * turns N acks=-1 round trips into one at high load.
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
  const sends = createSendQueue(async (topicMessages) => {
    try {
      await producer.sendBatch({ topicMessages, acks: -1 });
    } catch (cause) {
      throw new EventError(`publish to ${topicMessages.map((t) => t.topic).join(', ')} failed: ${(cause as Error).message}`, {
        retriable: isRetriableSendError(cause),
        cause,
      });
    }
  });

  function send(topicMessages: TopicMessages[]): Promise<void> {
    if (closed) return Promise.reject(new EventError('event producer is closed', { retriable: false }));
    return sends.send(topicMessages);
  }

  return {
    async publish(events) {
      const list: readonly AnyEvent[] = Array.isArray(events) ? events : [events as AnyEvent];
      if (list.length === 0) return;
      // Validate all before sending any: an invalid event never half-publishes a batch.
      for (const event of list) assertValidEvent(event);
      const byTopic = new Map<string, Message[]>();
      const spans: Span[] = [];
      for (const event of list) {
        const topic = topicOf(event.type);
        let messages = byTopic.get(topic);
        if (!messages) byTopic.set(topic, (messages = []));
        const parent = emitContextOf(event);
        const span = startSpan(`send ${topic}`, SpanKind.PRODUCER, publishAttributes(topic, event), parent);
        spans.push(span);
        messages.push(toRecord(event, traceFields(trace.setSpan(parent, span))));
      }
      try {
        await send([...byTopic].map(([topic, messages]) => ({ topic, messages })));
      } catch (err) {
        for (const span of spans) failSpan(span, err);
        throw err;
      } finally {
        for (const span of spans) span.end();
      }
      if (log.isLevelEnabled('debug')) log.debug({ events: list.map((e) => ({ id: e.id, type: e.type, key: e.key })) }, 'published');
    },
    async sendRecords(topic, messages) {
      if (messages.length > 0) await send([{ topic, messages }]);
    },
    async close() {
      if (closed) return;
      closed = true;
      await sends.drained();
      await producer.disconnect();
    },
  };
}

function publishAttributes(topic: string, event: AnyEvent): Attributes {
  return {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'send',
    'messaging.destination.name': topic,
    'messaging.message.id': event.id,
    'messaging.kafka.message.key': event.key,
    'shop.event.type': event.type,
    'shop.correlation_id': event.correlationId,
  };
}

export interface TopicMessages {
  topic: string;
  messages: Message[];
}

/**
 * One request in flight; calls made meanwhile wait and go out together in the next one. When a merged
 * request fails for good (a record the broker refuses), each call is sent again on its own, so one
 * caller's bad record never fails another caller's events.
 */
export function createSendQueue(sendRequest: (topicMessages: TopicMessages[]) => Promise<void>) {
  interface Pending {
    readonly topicMessages: TopicMessages[];
    readonly resolve: () => void;
    readonly reject: (err: unknown) => void;
  }
  let queue: Pending[] = [];
  let inFlight: Promise<void> | undefined;

  async function flush(batch: Pending[]): Promise<void> {
    try {
      await sendRequest(merge(batch));
      for (const p of batch) p.resolve();
    } catch (err) {
      if (batch.length === 1 || isRetriable(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      for (const p of batch) await sendRequest(p.topicMessages).then(p.resolve, p.reject);
    }
  }

  function pump(): void {
    if (inFlight || queue.length === 0) return;
    const batch = queue;
    queue = [];
    inFlight = flush(batch).finally(() => {
      inFlight = undefined;
      pump();
    });
  }

  return {
    send(topicMessages: TopicMessages[]): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        queue.push({ topicMessages, resolve, reject });
        pump();
      });
    },
    /** Resolves once nothing is queued or in flight. */
    async drained(): Promise<void> {
      while (inFlight) await inFlight;
    },
  };
}

/** Calls' messages merged per topic, each call's messages in order and calls in the order they were made. */
function merge(batch: readonly { topicMessages: TopicMessages[] }[]): TopicMessages[] {
  if (batch.length === 1) return batch[0]!.topicMessages;
  const byTopic = new Map<string, Message[]>();
  for (const { topicMessages } of batch) {
    for (const { topic, messages } of topicMessages) {
      const list = byTopic.get(topic);
      if (list) list.push(...messages);
      else byTopic.set(topic, [...messages]);
    }
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
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
