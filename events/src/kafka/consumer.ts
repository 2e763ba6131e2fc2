import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { RedisClient as Redis } from '../redis-client.js';
import type { Logger } from 'pino';
import { AbortedError, backoffDelayMs } from './backoff.js';
import { createBatchProcessor, type EventHandler } from './batch-processor.js';
import { createCheckpoints } from './checkpoint.js';
import { errorText } from './dead-letter-record.js';
import type { EventProducer } from './producer.js';
import type { EventType } from '../contracts/registry.js';
import type { AnyEvent } from '../contracts/envelope.js';

export { offsetKey, processedKey } from './checkpoint.js';
export { type EventHandler, type HandleOutcome, type HandlerContext } from './batch-processor.js';

export interface ConsumerRunner {
  /** Graceful: stops fetching, finishes the in-flight message, commits, leaves the group. Idempotent. */
  close(): Promise<void>;
}

export interface StartConsumerOptions {
  kafka: Kafka;
  /**
   * The Redis the handlers write their state to: it also holds the group's processed-event markers and, per
   * partition, the next offset to apply, written after the state each batch changed (`checkpoint.ts`).
   */
  redis: Redis;
  /** One group per service (no default: two services sharing a group would split the events between them). */
  groupId: string;
  topics: readonly string[];
  /**
   * Throw an error with `retriable: true` for "try again later" (retried forever); anything else is retried
   * `maxAttempts` times. Publish through `ctx.emit`, push to clients through `ctx.afterEmit`.
   */
  handle: EventHandler;
  /**
   * The event types `handle` reacts to, when it ignores the rest: records whose `x-event-type` header names
   * another known type are skipped without being parsed. Default: every record is handled.
   */
  eventTypes?: readonly EventType[];
  /**
   * Whether `handle` does anything for a parsed event, when that is known from the event alone (an order
   * status the group has no use for, say): records it refuses cost no Redis command, like skipped types.
   */
  accepts?: (event: AnyEvent) => boolean;
  /**
   * The handler is idempotent on its own state (a second delivery of an event changes nothing and emits the
   * same events): a batch that continues where this member left its partition is then handled without looking
   * its processed markers up, one round trip less per batch. Markers are still written, and looked up when the
   * member takes a partition up again (a start, a rebalance, a rewind), which is where redeliveries come from;
   * a duplicate record within a run (an upstream batch published again after a crash) meets the handler's own
   * idempotency. A Redis that lost writes is still noticed, at the batch's end. Default false.
   */
  idempotentHandler?: boolean;
  logger: Logger;
  /** Publishes what handlers emit, and dead letters (through `sendRecords`, so the original bytes are kept). */
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
  /**
   * Bytes a fetch waits for (up to `maxWaitTimeMs`) before it answers; default 1 (at once). A group nobody
   * waits on (a projection) can take its records in fewer, larger batches: every fetch answered costs both
   * processes a wake-up, which on a busy or virtualised host costs more than the records themselves.
   */
  fetchMinBytes?: number;
  /** Partitions handled at once (each still in order); default 1. */
  partitionsConsumedConcurrently?: number;
  /** Records handled together (one marker lookup, one produce, one marker write); default 500. */
  maxBatchRecords?: number;
  /** How often the applied positions are committed to Kafka (and once more at close); default 1_000 ms. */
  commitIntervalMs?: number;
}

/**
 * Fetch settings for a group nobody waits on (a projection, notifications): records are taken every 100 ms
 * or per 64 KiB, whichever comes first, instead of one fetch per record at low load.
 */
export const PROJECTION_FETCH = { fetchMinBytes: 64 * 1024, maxWaitTimeMs: 100 } as const satisfies Partial<StartConsumerOptions>;

const DEFAULTS = {
  fromBeginning: true,
  maxAttempts: 5,
  sessionTimeoutMs: 30_000,
  processedTtlSeconds: 7 * 24 * 3600,
  initialRetryDelayMs: 100,
  maxRetryDelayMs: 5_000,
  maxWaitTimeMs: 500,
  fetchMinBytes: 1,
  partitionsConsumedConcurrently: 1,
  maxBatchRecords: 500,
  commitIntervalMs: 1_000,
} as const;

/**
 * Starts a consumer group member. Each fetched batch (one partition's records) is taken to done by the
 * batch processor (`batch-processor.ts`: records grouped by key, keys at once, one produce and one round of
 * Redis writes per batch), and only then are its offsets resolved. The positions applied are committed to Kafka
 * every `commitIntervalMs` and at close, not after every batch as kafkajs's auto-commit does (an awaited broker
 * round trip per batch, most of a hop's cost at low load). The position that counts is the one stored in Redis
 * with the state: records Kafka redelivers before it are skipped, and when Redis
 * lost writes (a crash, a failover) the partition is rewound to it. Resolves once it has joined the group.
 * It keeps running through kafkajs crashes: kafkajs restarts itself after retriable ones, and this runner
 * restarts a fresh kafkajs consumer after the others.
 */
export async function startConsumer(opts: StartConsumerOptions): Promise<ConsumerRunner> {
  const cfg = { ...DEFAULTS, ...definedOnly(opts) };
  if (!cfg.groupId) throw new TypeError('startConsumer: groupId is required');
  if (cfg.topics.length === 0) throw new TypeError('startConsumer: topics must not be empty');
  if (!(cfg.maxAttempts >= 1)) throw new TypeError('startConsumer: maxAttempts must be >= 1');
  if (!(cfg.maxBatchRecords >= 1)) throw new TypeError('startConsumer: maxBatchRecords must be >= 1');
  if (!cfg.producer.sendRecords) throw new TypeError('startConsumer: the producer must have sendRecords (dead letters keep the original bytes)');
  const { groupId } = cfg;
  const log = cfg.logger.child({ component: 'event-consumer', groupId });
  const closing = new AbortController();
  let consumer: Consumer | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarts = 0;

  const checkpoints = createCheckpoints(cfg.redis, groupId);
  const processor = createBatchProcessor({
    redis: cfg.redis,
    groupId,
    handle: cfg.handle,
    ...(cfg.eventTypes ? { eventTypes: new Set(cfg.eventTypes) } : {}),
    ...(cfg.accepts ? { accepts: cfg.accepts } : {}),
    idempotentHandler: cfg.idempotentHandler ?? false,
    producer: cfg.producer,
    logger: log,
    maxAttempts: cfg.maxAttempts,
    processedTtlSeconds: cfg.processedTtlSeconds,
    initialRetryDelayMs: cfg.initialRetryDelayMs,
    maxRetryDelayMs: cfg.maxRetryDelayMs,
    heartbeatSliceMs: Math.max(100, Math.floor(cfg.sessionTimeoutMs / 6)),
    signal: closing.signal,
  });

  function rewind(topic: string, partition: number, offset: string): void {
    processor.forget(topic, partition);
    consumer?.seek({ topic, partition, offset });
  }

  /** Batches being handled: close waits for them before the last commit. */
  const inFlight = new Set<Promise<void>>();
  function eachBatch(payload: EachBatchPayload): Promise<void> {
    const handling = handleBatch(payload);
    inFlight.add(handling);
    return handling.finally(() => inFlight.delete(handling));
  }

  async function handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) {
    const { messages } = batch;
    for (let start = 0; start < messages.length; start += cfg.maxBatchRecords) {
      if (closing.signal.aborted || !isRunning() || isStale()) break;
      const slice = messages.slice(start, start + cfg.maxBatchRecords);
      let outcome;
      try {
        outcome = await processor.processBatch(batch.topic, batch.partition, slice, heartbeat);
      } catch (err) {
        if (err instanceof AbortedError) break; // not done: left uncommitted for whoever gets the partition next
        throw err; // a rebalance from heartbeat(): kafkajs commits what is resolved and rejoins
      }
      if (outcome.kind === 'rewind') {
        rewind(batch.topic, batch.partition, outcome.offset);
        break;
      }
      resolveOffset(slice[slice.length - 1]!.offset);
      await heartbeat();
    }
  }

  /**
   * Redis came back (after a restart, perhaps from an AOF that lost its last second): a partition whose stored
   * offset is behind what this member applied is rewound at once, not only when its next record arrives.
   */
  async function recheckPositions(): Promise<void> {
    for (const { topic, partition, stored: wrote } of processor.storedPositions()) {
      const stored = await checkpoints.stored(topic, partition).catch(() => undefined);
      if (stored === undefined) return; // down again: the next 'ready' checks
      if (stored !== null && BigInt(stored) >= BigInt(wrote)) continue;
      log.warn({ topic, partition, stored, wrote }, 'Redis lost writes of this group: applying again from its offset');
      if (stored !== null) rewind(topic, partition, stored);
      else log.error({ topic, partition }, 'Redis has no offset for this partition any more; rebuild the read models (npm run rebuild-read-models)');
    }
  }
  const onRedisReady = () => void recheckPositions();

  /**
   * A partition this member is given starts where Redis says, not where Kafka's commit says: the two differ
   * after a crash of either. (A batch fetched before this seek lands is checked against Redis all the same.)
   */
  async function startFromStoredOffsets(member: Consumer, assignment: Record<string, number[]>): Promise<void> {
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const stored = await checkpoints.stored(topic, partition).catch(() => null);
        if (stored !== null && member === consumer && !closing.signal.aborted) member.seek({ topic, partition, offset: stored });
      }
    }
  }
  cfg.redis.on('ready', onRedisReady);

  function createMember(): Consumer {
    const member = cfg.kafka.consumer({
      groupId,
      sessionTimeout: cfg.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.min(3_000, Math.floor(cfg.sessionTimeoutMs / 3))),
      maxWaitTimeInMs: cfg.maxWaitTimeMs,
      minBytes: cfg.fetchMinBytes,
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
      processor.forget();
      committed.clear();
      log.info({ memberId: payload.memberId, assignment: payload.memberAssignment }, 'joined consumer group');
      void startFromStoredOffsets(member, payload.memberAssignment);
    });
    member.on(member.events.STOP, () => log.debug('kafka consumer stopped'));
    return member;
  }

  /** Per partition, the offset last committed to Kafka by this member. */
  const committed = new Map<string, string>();

  /**
   * Commits what was applied since the last commit. Kafka's commit is only where a new owner's fetch would
   * start: it seeks to the offset stored in Redis anyway, and what a lost commit leaves behind is redelivered
   * and skipped, so a failed commit (a rebalance under way, a broker away) is just tried at the next tick.
   */
  async function commitApplied(): Promise<void> {
    const member = consumer;
    if (!member) return;
    const due = processor.appliedPositions().filter(({ topic, partition, next }) => committed.get(`${topic}:${partition}`) !== next);
    if (due.length === 0) return;
    try {
      await member.commitOffsets(due.map(({ topic, partition, next }) => ({ topic, partition, offset: next })));
      for (const { topic, partition, next } of due) committed.set(`${topic}:${partition}`, next);
    } catch (err) {
      log.debug({ err: errorText(err) }, 'offset commit failed; the next tick tries again');
    }
  }
  let committing: Promise<void> | undefined;
  const commitTimer = setInterval(() => {
    committing ??= commitApplied().finally(() => (committing = undefined));
  }, cfg.commitIntervalMs);
  commitTimer.unref();

  async function run(member: Consumer): Promise<void> {
    await member.connect();
    await member.subscribe({ topics: [...cfg.topics], fromBeginning: cfg.fromBeginning });
    await member.run({
      eachBatch,
      eachBatchAutoResolve: false,
      // kafkajs's auto-commit commits after every batch, awaited before the next fetch: commitApplied() instead.
      autoCommit: false,
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
        clearInterval(commitTimer);
        cfg.redis.off('ready', onRedisReady);
        // The batches under way stop at their next step (the abort); what they applied is committed, then
        // disconnect() leaves the group.
        await Promise.allSettled([...inFlight]);
        await committing;
        await commitApplied();
        await consumer?.disconnect();
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
