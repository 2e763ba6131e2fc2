import { type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Message, type Producer, Partitioners } from 'kafkajs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AnyEvent } from '../contracts/envelope.js';
import { parseEvent } from '../contracts/parse.js';
import { deadLetterTopic } from '../contracts/topics.js';
import { isRetriable } from '../errors.js';
import { AbortedError, backoffDelayMs, sleep } from './backoff.js';
import { buildDeadLetter, errorText } from './dead-letter-record.js';
import { headersToStrings } from './headers.js';
import type { EventProducer } from './producer.js';

export interface HandlerContext {
  topic: string;
  partition: number;
  offset: string;
  /** Record headers as strings (`x-correlation-id`, …). */
  headers: Record<string, string>;
  /** Child logger bound to the event (id, type, correlation id) and its position. */
  logger: Logger;
}

export interface ConsumerRunner {
  /** Graceful: stops fetching, finishes the in-flight message, commits, leaves the group. Idempotent. */
  close(): Promise<void>;
}

export interface StartConsumerOptions {
  kafka: Kafka;
  /** Holds the processed-event markers `events:processed:<groupId>:<eventId>`. */
  redis: Redis;
  /** One group per service (no default: two services sharing a group would split the events between them). */
  groupId: string;
  topics: readonly string[];
  /** Throw an error with `retriable: true` for "try again later" (retried forever); anything else is retried `maxAttempts` times. */
  handle: (event: AnyEvent, ctx: HandlerContext) => Promise<void>;
  logger: Logger;
  /** Publishes dead letters (through `sendRecords` when it has one, so the original bytes are kept). */
  producer: EventProducer;
  /** Where a group without committed offsets starts; default `true` (read models are built from the whole log). */
  fromBeginning?: boolean;
  /** Handler runs for a non-retriable error before the record is dead-lettered; default 5. */
  maxAttempts?: number;
  /** Group session timeout; default 30_000 ms. Tests use less so a dead member leaves the group quickly. */
  sessionTimeoutMs?: number;
  /** How long a processed marker is kept; default 7 days (longer than any redelivery we expect). */
  processedTtlSeconds?: number;
  /** First retry delay; default 100 ms, doubled per attempt. */
  initialRetryDelayMs?: number;
  /** Retry delay cap; default 5_000 ms. */
  maxRetryDelayMs?: number;
  /** Longest a fetch waits for new records; default 500 ms (latency of an idle consumer). */
  maxWaitTimeMs?: number;
  /** Partitions handled at once (each still in order); default 1. */
  partitionsConsumedConcurrently?: number;
  /** Within a batch, commit after this many processed records; default 100 (batch end, close and rebalance always commit). */
  commitEveryRecords?: number;
  /** Within a batch, commit when the last commit is older than this; default 1_000 ms. */
  commitIntervalMs?: number;
}

const DEFAULTS = {
  fromBeginning: true,
  maxAttempts: 5,
  sessionTimeoutMs: 30_000,
  processedTtlSeconds: 7 * 24 * 3600,
  initialRetryDelayMs: 100,
  maxRetryDelayMs: 5_000,
  maxWaitTimeMs: 500,
  partitionsConsumedConcurrently: 1,
  commitEveryRecords: 100,
  commitIntervalMs: 1_000,
} as const;

/** Redis key of the marker saying `groupId` has processed `eventId`. */
export function processedKey(groupId: string, eventId: string): string {
  return `events:processed:${groupId}:${eventId}`;
}

/**
 * Starts a consumer group member: per-partition order; each record is parsed (failure → dead letter at once),
 * skipped if this group already processed its id, handled, marked processed, then its offset is resolved and
 * committed (batched: see `commitEveryRecords`; never before the record is done). Resolves once it has
 * joined the group. It keeps running through kafkajs crashes: kafkajs restarts itself after retriable ones,
 * and this runner restarts a fresh kafkajs consumer after the others.
 */
export async function startConsumer(opts: StartConsumerOptions): Promise<ConsumerRunner> {
  const cfg = { ...DEFAULTS, ...definedOnly(opts) };
  if (!cfg.groupId) throw new TypeError('startConsumer: groupId is required');
  if (cfg.topics.length === 0) throw new TypeError('startConsumer: topics must not be empty');
  if (!(cfg.maxAttempts >= 1)) throw new TypeError('startConsumer: maxAttempts must be >= 1');
  const { redis, groupId, handle } = cfg;
  const log = cfg.logger.child({ component: 'event-consumer', groupId });
  const closing = new AbortController();
  let consumer: Consumer | undefined;
  let ownDeadLetterProducer: Producer | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarts = 0;

  const retryDelay = (attempt: number) => backoffDelayMs(attempt, cfg.initialRetryDelayMs, cfg.maxRetryDelayMs);

  /** Sleeps in slices so the group keeps seeing our heartbeats during a long backoff. */
  async function pause(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const slice = Math.max(100, Math.floor(cfg.sessionTimeoutMs / 6));
    for (let left = ms; left > 0; left -= slice) {
      await sleep(Math.min(left, slice), closing.signal);
      await heartbeat();
    }
  }

  /** Infrastructure (Redis, the dead-letter send) is retried without limit: skipping ahead would lose the record. */
  async function untilItWorks<T>(what: string, heartbeat: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const delayMs = retryDelay(attempt);
        log.warn({ err: errorText(err), attempt, delayMs }, `${what} failed, retrying`);
        await pause(delayMs, heartbeat);
      }
    }
  }

  async function sendDeadLetter(topic: string, message: Message): Promise<void> {
    if (opts.producer.sendRecords) return opts.producer.sendRecords(topic, [message]);
    if (!ownDeadLetterProducer) {
      ownDeadLetterProducer = cfg.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await ownDeadLetterProducer.connect();
    }
    await ownDeadLetterProducer.send({ topic, messages: [message], acks: -1 });
  }

  async function deadLetter(topic: string, partition: number, message: KafkaMessage, error: unknown, attempts: number, heartbeat: () => Promise<void>) {
    const record = buildDeadLetter(message, { topic, partition, offset: message.offset, groupId }, error, attempts, new Date());
    const dlq = deadLetterTopic(topic);
    await untilItWorks(`dead letter to ${dlq}`, heartbeat, () => sendDeadLetter(dlq, record));
    log.error({ topic, partition, offset: message.offset, dlq, attempts, err: errorText(error) }, 'record dead-lettered');
  }

  /**
   * Takes one record to done: handled and marked, skipped as already processed, or dead-lettered. Throws
   * `AbortedError` when the consumer closes first (the record is then not done), or a rebalance from heartbeat().
   */
  async function processRecord(topic: string, partition: number, message: KafkaMessage, heartbeat: () => Promise<void>): Promise<void> {
    let event: AnyEvent;
    try {
      event = parseEvent(message.value);
    } catch (err) {
      // A malformed record never gets better: dead-letter it at once and go on.
      await deadLetter(topic, partition, message, err, 0, heartbeat);
      return;
    }
    const key = processedKey(groupId, event.id);
    const ctx: HandlerContext = {
      topic,
      partition,
      offset: message.offset,
      headers: headersToStrings(message.headers),
      logger: log.child({ eventId: event.id, eventType: event.type, correlationId: event.correlationId, topic, partition, offset: message.offset }),
    };
    if ((await untilItWorks('processed-marker lookup', heartbeat, () => redis.exists(key))) === 1) {
      ctx.logger.debug('already processed by this group, skipping');
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await handle(event, ctx);
        break;
      } catch (err) {
        const retriable = isRetriable(err);
        if (!retriable && attempt >= cfg.maxAttempts) {
          await deadLetter(topic, partition, message, err, attempt, heartbeat);
          return;
        }
        const delayMs = retryDelay(attempt);
        ctx.logger.warn({ err: errorText(err), retriable, attempt, delayMs }, 'handler failed, retrying');
        await pause(delayMs, heartbeat);
      }
    }
    // Written after the handler: a crash in between redelivers, so handlers stay idempotent on their own state.
    await untilItWorks('processed-marker write', heartbeat, () =>
      redis.set(key, `${topic}:${partition}:${message.offset}`, 'EX', cfg.processedTtlSeconds, 'NX'),
    );
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload) {
    for (const message of batch.messages) {
      if (closing.signal.aborted || !isRunning() || isStale()) break;
      try {
        await processRecord(batch.topic, batch.partition, message, heartbeat);
      } catch (err) {
        if (err instanceof AbortedError) break; // not done: left uncommitted for whoever gets the partition next
        throw err; // a rebalance from heartbeat(): kafkajs commits what is resolved and rejoins
      }
      resolveOffset(message.offset);
      await commitOffsetsIfNecessary();
      await heartbeat();
    }
  }

  function createMember(): Consumer {
    const member = cfg.kafka.consumer({
      groupId,
      sessionTimeout: cfg.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.min(3_000, Math.floor(cfg.sessionTimeoutMs / 3))),
      maxWaitTimeInMs: cfg.maxWaitTimeMs,
      retry: {
        restartOnFailure: async (err) => {
          log.error({ err: errorText(err) }, 'kafka consumer failed; kafkajs restarts it');
          return !closing.signal.aborted;
        },
      },
    });
    member.on(member.events.CRASH, ({ payload }) => {
      log.error({ err: errorText(payload.error), restart: payload.restart }, 'kafka consumer crashed');
      // kafkajs gives up on non-retriable errors; a consumer that silently stops is worse than one that retries.
      if (!payload.restart && member === consumer) scheduleRestart();
    });
    member.on(member.events.GROUP_JOIN, ({ payload }) => {
      log.info({ memberId: payload.memberId, assignment: payload.memberAssignment }, 'joined consumer group');
    });
    member.on(member.events.STOP, () => log.debug('kafka consumer stopped'));
    return member;
  }

  async function run(member: Consumer): Promise<void> {
    await member.connect();
    await member.subscribe({ topics: [...cfg.topics], fromBeginning: cfg.fromBeginning });
    await member.run({
      eachBatch,
      // Offsets are resolved one by one once each record is done. They are committed at the end of each
      // batch, on close and on rebalance, and within a long batch every `commitEveryRecords` records or
      // `commitIntervalMs`: a commit per record costs a broker round trip each, and what a crash leaves
      // uncommitted is redelivered and skipped by the processed markers.
      eachBatchAutoResolve: false,
      autoCommitThreshold: cfg.commitEveryRecords,
      autoCommitInterval: cfg.commitIntervalMs,
      partitionsConsumedConcurrently: cfg.partitionsConsumedConcurrently,
    });
  }

  function scheduleRestart(): void {
    if (closing.signal.aborted || restartTimer) return;
    restarts++;
    const delayMs = backoffDelayMs(restarts, 500, 30_000);
    log.warn({ restarts, delayMs }, 'restarting kafka consumer');
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (closing.signal.aborted) return;
      const previous = consumer;
      const member = createMember();
      consumer = member;
      void previous?.disconnect().catch(() => undefined);
      run(member).then(
        () => {
          restarts = 0;
        },
        (err: unknown) => {
          log.error({ err: errorText(err) }, 'kafka consumer restart failed');
          void member.disconnect().catch(() => undefined);
          scheduleRestart();
        },
      );
    }, delayMs);
  }

  consumer = createMember();
  try {
    await run(consumer);
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    throw err;
  }
  log.info({ topics: cfg.topics }, 'consumer started');

  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= (async () => {
        closing.abort();
        clearTimeout(restartTimer);
        // disconnect() stops the runner: it waits for eachBatch (the in-flight record), commits, leaves the group.
        await consumer?.disconnect();
        await ownDeadLetterProducer?.disconnect();
        log.info('consumer closed');
      })();
      return closed;
    },
  };
}

/** Drops `undefined` options so they do not override the defaults. */
function definedOnly<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
