import type { KafkaMessage, Message } from 'kafkajs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AnyEvent } from '../contracts/envelope.js';
import { parseEvent } from '../contracts/parse.js';
import { isEventType, type EventType } from '../contracts/registry.js';
import { deadLetterTopic, HEADERS } from '../contracts/topics.js';
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
  /**
   * Queues events to publish. Everything a batch emits goes out in one produce request (acks=-1) once every
   * handler of the batch is done, and before its offsets are committed. A failed attempt's events are dropped.
   */
  emit(events: AnyEvent | readonly AnyEvent[]): void;
  /**
   * Runs `effect` once this handler's events are in Kafka (a pub/sub push: no client hears of a change Kafka
   * does not have). Retried until it works, like the runner's own Redis writes.
   */
  afterEmit(effect: () => Promise<unknown>): void;
}

/** What a handler did: `ignored` means nothing (no processed marker is written for it). */
export type HandleOutcome = 'ok' | 'ignored' | void;

export type EventHandler = (event: AnyEvent, ctx: HandlerContext) => Promise<HandleOutcome>;

export interface BatchProcessorOptions {
  readonly redis: Redis;
  readonly groupId: string;
  readonly handle: EventHandler;
  /** Types the handler reacts to; a record whose `x-event-type` header names another type is skipped unparsed. */
  readonly eventTypes?: ReadonlySet<EventType>;
  readonly producer: EventProducer;
  readonly logger: Logger;
  readonly maxAttempts: number;
  readonly processedTtlSeconds: number;
  readonly initialRetryDelayMs: number;
  readonly maxRetryDelayMs: number;
  /** Sleeps longer than this are cut in slices with a heartbeat between them. */
  readonly heartbeatSliceMs: number;
  /** Aborted when the consumer closes: backoffs end at once with `AbortedError`. */
  readonly signal: AbortSignal;
}

/** Redis key of the marker saying `groupId` has processed `eventId`. */
export function processedKey(groupId: string, eventId: string): string {
  return `events:processed:${groupId}:${eventId}`;
}

/** A record taken to done: what it leaves to do once the whole batch is handled. */
interface Done {
  readonly events: readonly AnyEvent[];
  readonly effects: readonly (() => Promise<unknown>)[];
  /** The processed marker to write (null: nothing to mark, e.g. ignored or dead-lettered). */
  readonly marker: { readonly key: string; readonly value: string } | null;
  readonly deadLetter: { readonly topic: string; readonly record: Message } | null;
}

const SKIPPED: Done = { events: [], effects: [], marker: null, deadLetter: null };

/** A header value as text (kafkajs gives Buffers; arrays only for repeated headers, of which we take the first). */
function headerText(value: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

interface Parsed {
  readonly message: KafkaMessage;
  readonly event: AnyEvent;
  readonly marker: string;
}

/**
 * Takes one partition's fetched records to done, a batch at a time:
 * 1. parse every record (a malformed one becomes a dead letter at once);
 * 2. look up every processed marker at once (the commands go out together on an auto-pipelined client);
 * 3. run the handlers: records grouped by key, each key's records in offset order, different keys at once;
 * 4. one produce request for every event the batch emitted and every dead letter;
 * 5. the handlers' after-emit effects (pub/sub pushes) and the processed markers, all at once.
 * Only then may the caller resolve the batch's offsets. Handler failures are retried per record (forever
 * when `retriable`, else `maxAttempts` times, then dead-lettered) without holding back the other keys'
 * work; Redis and Kafka outages are waited out. A crash anywhere before the markers redelivers the batch,
 * and handlers are idempotent on their own state, so every effect still happens once.
 */
export function createBatchProcessor(opts: BatchProcessorOptions) {
  const { redis, groupId, producer } = opts;
  const log = opts.logger;
  const retryDelay = (attempt: number) => backoffDelayMs(attempt, opts.initialRetryDelayMs, opts.maxRetryDelayMs);

  /** Sleeps in slices so the group keeps seeing our heartbeats during a long backoff. */
  async function pause(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    for (let left = ms; left > 0; left -= opts.heartbeatSliceMs) {
      await sleep(Math.min(left, opts.heartbeatSliceMs), opts.signal);
      await heartbeat();
    }
  }

  /** Infrastructure (Redis, Kafka) is retried without limit: skipping ahead would lose the record. */
  async function untilItWorks<T>(what: string, heartbeat: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (opts.signal.aborted) throw new AbortedError();
        const delayMs = retryDelay(attempt);
        log.warn({ err: errorText(err), attempt, delayMs }, `${what} failed, retrying`);
        await pause(delayMs, heartbeat);
      }
    }
  }

  function deadLetterOf(topic: string, partition: number, message: KafkaMessage, error: unknown, attempts: number): Done {
    const record = buildDeadLetter(message, { topic, partition, offset: message.offset, groupId }, error, attempts, new Date());
    log.error({ topic, partition, offset: message.offset, dlq: deadLetterTopic(topic), attempts, err: errorText(error) }, 'record dead-lettered');
    return { events: [], effects: [], marker: null, deadLetter: { topic: deadLetterTopic(topic), record } };
  }

  /** Runs the handler until it succeeds or gives up; never throws but `AbortedError` (closing) or a rebalance. */
  async function handleRecord(topic: string, partition: number, p: Parsed, heartbeat: () => Promise<void>): Promise<Done> {
    const { message, event } = p;
    // Made on first use: most records log nothing, and a pino child serializes its bindings when made.
    let recordLogger: Logger | undefined;
    const logger = () =>
      (recordLogger ??= log.child({ eventId: event.id, eventType: event.type, correlationId: event.correlationId, topic, partition, offset: message.offset }));
    const headers = headersToStrings(message.headers);
    for (let attempt = 1; ; attempt++) {
      const events: AnyEvent[] = [];
      const effects: (() => Promise<unknown>)[] = [];
      const ctx: HandlerContext = {
        topic,
        partition,
        offset: message.offset,
        headers,
        get logger() {
          return logger();
        },
        emit: (e) => {
          if (Array.isArray(e)) events.push(...(e as readonly AnyEvent[]));
          else events.push(e as AnyEvent);
        },
        afterEmit: (effect) => void effects.push(effect),
      };
      try {
        const outcome = await opts.handle(event, ctx);
        const marker = outcome === 'ignored' ? null : { key: p.marker, value: `${topic}:${partition}:${message.offset}` };
        return { events, effects, marker, deadLetter: null };
      } catch (err) {
        const retriable = isRetriable(err);
        if (!retriable && attempt >= opts.maxAttempts) return deadLetterOf(topic, partition, message, err, attempt);
        const delayMs = retryDelay(attempt);
        logger().warn({ err: errorText(err), retriable, attempt, delayMs }, 'handler failed, retrying');
        await pause(delayMs, heartbeat);
      }
    }
  }

  /** One key's records, in order. */
  async function handleKey(topic: string, partition: number, records: readonly Parsed[], heartbeat: () => Promise<void>): Promise<Done[]> {
    const done: Done[] = [];
    for (const p of records) done.push(await handleRecord(topic, partition, p, heartbeat));
    return done;
  }

  /** Events and dead letters of the batch in one request (the producer merges concurrent sends into one). */
  async function publish(done: readonly Done[]): Promise<void> {
    const events = done.flatMap((d) => d.events);
    const deadLetters = new Map<string, Message[]>();
    for (const d of done) {
      if (!d.deadLetter) continue;
      const list = deadLetters.get(d.deadLetter.topic);
      if (list) list.push(d.deadLetter.record);
      else deadLetters.set(d.deadLetter.topic, [d.deadLetter.record]);
    }
    const sends: Promise<void>[] = [];
    if (events.length) sends.push(producer.publish(events));
    for (const [topic, records] of deadLetters) sends.push(sendRecords(topic, records));
    await Promise.all(sends);
  }

  /** `startConsumer` refuses a producer without `sendRecords`. */
  function sendRecords(topic: string, records: Message[]): Promise<void> {
    return producer.sendRecords!(topic, records);
  }

  /** Publishes, waiting out outages; resolves with the error when the broker refuses the records for good. */
  function publishUnlessRefused(done: readonly Done[], heartbeat: () => Promise<void>): Promise<unknown> {
    return untilItWorks('publishing the batch', heartbeat, () =>
      publish(done).then(
        () => null,
        (err: unknown) => {
          if (isRetriable(err)) throw err;
          return err;
        },
      ),
    );
  }

  /**
   * Publishes what the records emitted. When the broker refuses the batch for good (a record too large,
   * say), it is sent again record by record, and a record whose events are refused is dead-lettered instead.
   */
  async function publishAll(topic: string, partition: number, messages: readonly KafkaMessage[], done: Done[], heartbeat: () => Promise<void>): Promise<void> {
    if ((await publishUnlessRefused(done, heartbeat)) === null) return;
    for (let i = 0; i < done.length; i++) {
      const refused = await publishUnlessRefused([done[i]!], heartbeat);
      if (refused === null) continue;
      const letter = deadLetterOf(topic, partition, messages[i]!, refused, opts.maxAttempts);
      done[i] = letter;
      await untilItWorks('dead letter', heartbeat, () => publish([letter]));
    }
  }

  /** Takes `messages` (one partition's, in offset order) to done; throws `AbortedError` when closing first. */
  async function processBatch(topic: string, partition: number, messages: readonly KafkaMessage[], heartbeat: () => Promise<void>): Promise<void> {
    const done: (Done | undefined)[] = new Array(messages.length);
    const parsed: { index: number; p: Parsed }[] = [];
    messages.forEach((message, index) => {
      if (opts.eventTypes) {
        // Skipped unparsed only when the header names a known type the group has no use for: a record
        // without it, or naming an unknown type, is parsed, so a malformed one is still dead-lettered.
        const type = headerText(message.headers?.[HEADERS.eventType]);
        if (isEventType(type) && !opts.eventTypes.has(type)) {
          done[index] = SKIPPED;
          return;
        }
      }
      try {
        const event = parseEvent(message.value);
        parsed.push({ index, p: { message, event, marker: processedKey(groupId, event.id) } });
      } catch (err) {
        // A malformed record never gets better: dead-letter it at once.
        done[index] = deadLetterOf(topic, partition, message, err, 0);
      }
    });

    const seen = await untilItWorks('processed-marker lookup', heartbeat, () => Promise.all(parsed.map(({ p }) => redis.exists(p.marker))));
    const byKey = new Map<string, { index: number; p: Parsed }[]>();
    const inBatch = new Set<string>();
    parsed.forEach((entry, i) => {
      // Processed before, or earlier in this very batch (a producer retry may write a record twice).
      const duplicate = seen[i] === 1 || inBatch.has(entry.p.event.id);
      inBatch.add(entry.p.event.id);
      if (duplicate) {
        done[entry.index] = SKIPPED;
        return;
      }
      const list = byKey.get(entry.p.event.key);
      if (list) list.push(entry);
      else byKey.set(entry.p.event.key, [entry]);
    });

    const outcomes = await Promise.allSettled(
      [...byKey.values()].map(async (entries) => {
        const results = await handleKey(topic, partition, entries.map((e) => e.p), heartbeat);
        entries.forEach((e, i) => (done[e.index] = results[i]));
      }),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason; // closing (AbortedError) or a rebalance: nothing of the batch is committed

    const all = done as Done[];
    await publishAll(topic, partition, messages, all, heartbeat);
    // Pushes and markers go out together (one round trip on an auto-pipelined client): both only after Kafka
    // has the events, and a crash that loses either still leaves the state and the events right.
    const effects = all.flatMap((d) => d.effects);
    const markers = all.flatMap((d) => (d.marker ? [d.marker] : []));
    await Promise.all([
      ...effects.map((effect) => untilItWorks('after-emit effect', heartbeat, effect)),
      markers.length === 0
        ? undefined
        : untilItWorks('processed-marker write', heartbeat, () => Promise.all(markers.map((m) => redis.set(m.key, m.value, 'EX', opts.processedTtlSeconds, 'NX')))),
    ]);
  }

  return { processBatch };
}
