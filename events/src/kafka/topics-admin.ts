import type { Kafka } from 'kafkajs';
import { ALL_TOPICS, DEFAULT_PARTITIONS, deadLetterTopic } from '../contracts/topics.js';

export interface EnsureTopicsOptions {
  /** Partitions of each topic it creates; default 6. Existing topics are left as they are. */
  partitions?: number;
  /** Topics to ensure; default every event topic and its dead-letter topic. */
  topics?: string[];
  /** Replication factor of created topics; default the broker's default. */
  replicationFactor?: number;
}

/** Every event topic with its `.dlq`. */
export function allTopicsWithDeadLetters(): string[] {
  return ALL_TOPICS.flatMap((t) => [t, deadLetterTopic(t)]);
}

/**
 * Creates the topics that do not exist yet; idempotent and safe to race (several services start at once:
 * "already exists" counts as success).
 */
export async function ensureTopics(kafka: Kafka, opts: EnsureTopicsOptions = {}): Promise<void> {
  const partitions = opts.partitions ?? DEFAULT_PARTITIONS;
  const wanted = [...new Set(opts.topics ?? allTopicsWithDeadLetters())];
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    if (missing.length === 0) return;
    // kafkajs treats TOPIC_ALREADY_EXISTS (a concurrent creator won) as "not created", not as an error.
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: partitions,
        ...(opts.replicationFactor === undefined ? {} : { replicationFactor: opts.replicationFactor }),
      })),
    });
  } finally {
    await admin.disconnect();
  }
}
