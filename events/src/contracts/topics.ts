/** Topic names: one topic per aggregate, 6 partitions each, keyed by aggregate id (docs/architecture.md). */
export const TOPICS = {
  orders: 'shop.orders',
  payments: 'shop.payments',
  inventory: 'shop.inventory',
} as const;

export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

export const ALL_TOPICS: readonly string[] = Object.freeze(Object.values(TOPICS));

/** Partitions per topic: enough for the consumer groups to spread; keys keep per-aggregate order within one. */
export const DEFAULT_PARTITIONS = 6;

const DEAD_LETTER_SUFFIX = '.dlq';

/** `shop.orders` → `shop.orders.dlq`. */
export function deadLetterTopic(topic: string): string {
  return `${topic}${DEAD_LETTER_SUFFIX}`;
}

export function isDeadLetterTopic(topic: string): boolean {
  return topic.endsWith(DEAD_LETTER_SUFFIX);
}

/** `shop.orders.dlq` → `shop.orders`; accepts a source topic unchanged. */
export function sourceTopicOf(topic: string): string {
  return isDeadLetterTopic(topic) ? topic.slice(0, -DEAD_LETTER_SUFFIX.length) : topic;
}

/** Kafka record headers every event carries (copied from the envelope so tooling can route without parsing). */
export const HEADERS = {
  eventId: 'x-event-id',
  eventType: 'x-event-type',
  eventVersion: 'x-event-version',
  correlationId: 'x-correlation-id',
  causationId: 'x-causation-id',
} as const;

/** Headers a dead letter adds to the original record's headers. */
export const DLQ_HEADERS = {
  error: 'x-dlq-error',
  sourceTopic: 'x-dlq-source-topic',
  sourcePartition: 'x-dlq-source-partition',
  sourceOffset: 'x-dlq-source-offset',
  consumerGroup: 'x-dlq-consumer-group',
  failedAt: 'x-dlq-failed-at',
  /** How many times the handler ran (0 when the record could not be parsed). */
  attempts: 'x-dlq-attempts',
} as const;

/** Added to a re-driven record: `<dlq topic>:<partition>:<offset>` it came from. */
export const REDRIVEN_FROM_HEADER = 'x-redriven-from';
