import { randomUUID } from 'node:crypto';
import { type Kafka, Partitioners } from 'kafkajs';
import type { RedisClient as Redis } from '../redis-client.js';
import { deadLetterTopic, sourceTopicOf } from '../contracts/topics.js';
import { EventError } from '../errors.js';
import { type DeadLetter, buildRedrive, decodeDeadLetter } from './dead-letter-record.js';

export type { DeadLetter } from './dead-letter-record.js';

/** Redis hash of the dead letters of `dlqTopic` already re-driven: field `<partition>:<offset>` → ISO time. */
export function redrivenKey(dlqTopic: string): string {
  return `events:dlq:redriven:${dlqTopic}`;
}

export interface ReadDeadLettersOptions {
  /** The source topic (`shop.orders`) or its dead-letter topic (`shop.orders.dlq`). */
  topic: string;
  /** Give up reading after this long; default 30_000 ms. */
  timeoutMs?: number;
}

/**
 * Reads every record of a dead-letter topic, ordered by partition then offset. Kafka has no read without a
 * group in kafkajs, so it joins a throwaway group that commits nothing, reads up to the high watermarks
 * taken at the start, and deletes the group.
 */
export async function readDeadLetters(kafka: Kafka, opts: ReadDeadLettersOptions): Promise<DeadLetter[]> {
  const dlq = deadLetterTopic(sourceTopicOf(opts.topic));
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(dlq)) return [];
    const watermarks = await admin.fetchTopicOffsets(dlq);
    // Next offset still to see per partition, until it reaches the high watermark.
    const pending = new Map(watermarks.filter((w) => BigInt(w.high) > BigInt(w.low)).map((w) => [w.partition, BigInt(w.high)]));
    if (pending.size === 0) return [];
    const letters: DeadLetter[] = [];
    const groupId = `dead-letters-reader-${randomUUID()}`;
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 250 });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new EventError(`reading ${dlq} timed out after ${opts.timeoutMs ?? 30_000} ms`, { retriable: true })),
          opts.timeoutMs ?? 30_000,
        );
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          clearTimeout(timer);
          reject(payload.error);
        });
        (async () => {
          await consumer.connect();
          await consumer.subscribe({ topic: dlq, fromBeginning: true });
          await consumer.run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              const high = pending.get(partition);
              if (high === undefined) return;
              if (BigInt(message.offset) < high) letters.push(decodeDeadLetter(dlq, partition, message));
              if (BigInt(message.offset) + 1n >= high) pending.delete(partition);
              if (pending.size === 0) done();
            },
          });
        })().catch(reject);
      });
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return letters.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  } finally {
    await admin.disconnect();
  }
}

/** Which dead letters to re-drive: all not yet re-driven, or one by its position in the dead-letter topic. */
export type RedriveSelection = { all: true } | { offset: string; partition?: number };

export interface RedriveOptions {
  kafka: Kafka;
  /** Records which dead letters were re-driven (`events:dlq:redriven:<dlq topic>`). */
  redis: Redis;
  /** The source topic (`shop.orders`) or its dead-letter topic. */
  topic: string;
  select: RedriveSelection;
  /** Give up reading the dead-letter topic after this long; default 30_000 ms. */
  timeoutMs?: number;
}

export interface RedriveResult {
  redriven: DeadLetter[];
  /** Selected but re-driven before: left alone. */
  alreadyRedriven: DeadLetter[];
}

/**
 * Publishes dead letters back to their source topic with their original key, bytes and headers, then records
 * each as re-driven so a second run does not publish it again. (A crash between the two re-drives it twice;
 * the consumers' processed-id markers make that harmless for a record that parses.)
 */
export async function redriveDeadLetters(opts: RedriveOptions): Promise<RedriveResult> {
  const dlq = deadLetterTopic(sourceTopicOf(opts.topic));
  const letters = await readDeadLetters(opts.kafka, { topic: dlq, timeoutMs: opts.timeoutMs });
  const selected = selectDeadLetters(letters, opts.select, dlq);
  const done = await opts.redis.hgetall(redrivenKey(dlq));
  const result: RedriveResult = { redriven: [], alreadyRedriven: [] };
  const todo = selected.filter((dl) => {
    const seen = done[`${dl.partition}:${dl.offset}`] !== undefined;
    if (seen) result.alreadyRedriven.push(dl);
    return !seen;
  });
  if (todo.length === 0) return result;
  const producer = opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (const dl of todo) {
      await producer.send({ topic: dl.sourceTopic, acks: -1, messages: [buildRedrive(dl.record, { topic: dlq, partition: dl.partition, offset: dl.offset })] });
      await opts.redis.hset(redrivenKey(dlq), `${dl.partition}:${dl.offset}`, new Date().toISOString());
      result.redriven.push(dl);
    }
  } finally {
    await producer.disconnect();
  }
  return result;
}

/** Applies a selection; an offset that names no dead letter, or several (one per partition), is an error. */
export function selectDeadLetters(letters: readonly DeadLetter[], select: RedriveSelection, dlq: string): DeadLetter[] {
  if ('all' in select) return [...letters];
  const matches = letters.filter((dl) => dl.offset === select.offset && (select.partition === undefined || dl.partition === select.partition));
  if (matches.length === 0) {
    throw new EventError(`no dead letter at offset ${select.offset}${select.partition === undefined ? '' : ` of partition ${select.partition}`} in ${dlq}`);
  }
  if (matches.length > 1) {
    throw new EventError(
      `offset ${select.offset} exists in partitions ${matches.map((m) => m.partition).join(', ')} of ${dlq}: add --partition`,
    );
  }
  return matches;
}

/** Marks which letters were re-driven, for listing. */
export async function redrivenAt(redis: Redis, dlqTopic: string): Promise<Map<string, string>> {
  return new Map(Object.entries(await redis.hgetall(redrivenKey(dlqTopic))));
}
