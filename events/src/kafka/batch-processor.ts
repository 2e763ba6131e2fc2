import type { KafkaMessage, Message } from 'kafkajs';
import type { RedisClient as Redis } from '../redis-client.js';
import type { Logger } from 'pino';
import type { AnyEvent } from '../contracts/envelope.js';
import { parseEvent } from '../contracts/parse.js';
import { isEventType, type EventType } from '../contracts/registry.js';
import { deadLetterTopic, HEADERS } from '../contracts/topics.js';
import { isRetriable } from '../errors.js';
import { AbortedError, backoffDelayMs, sleep } from './backoff.js';
import { buildDeadLetter, errorText } from './dead-letter-record.js';
import { headersToStrings } from './headers.js';
import { createCheckpoints, processedKey, type CheckpointStart } from './checkpoint.js';
import type { EventProducer } from './producer.js';
import type { Attributes } from '@opentelemetry/api';
import { context, contextOf, failSpan, rememberEmitContext, SpanKind, startSpan, trace } from '../tracing.js';

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
  /** Whether the handler does anything for a parsed event; refused ones are skipped like unwanted types. */
  readonly accepts?: (event: AnyEvent) => boolean;
  /** No marker lookup for a batch continuing where this member left the partition (see `startConsumer`). */
  readonly idempotentHandler?: boolean;
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

/**
 * What became of a batch: `applied` (its state, events, markers and the partition's next offset are stored)
 * or `rewind` (Redis holds an earlier position than the fetch: it lost writes, or never had them; the caller
 * seeks the partition to `offset`, and the records from there are applied again).
 */
export type BatchOutcome = { readonly kind: 'applied'; readonly next: string } | { readonly kind: 'rewind'; readonly offset: string };

/** Rewinds to the same stored offset before a batch that still starts later is taken as a gap in the log. */
const REWINDS_BEFORE_GAP = 3;

/** A record taken to done: what it leaves to do once the whole batch is handled. */
interface Done {
  readonly events: readonly AnyEvent[];
  readonly effects: readonly (() => Promise<unknown>)[];
  /** The processed marker to write (null: nothing to mark, e.g. ignored or dead-lettered). */
  readonly marker: { readonly key: string; readonly value: string } | null;
  readonly deadLetter: { readonly topic: string; readonly record: Message } | null;
}

const SKIPPED: Done = { events: [], effects: [], marker: null, deadLetter: null };

function processAttributes(groupId: string, topic: string, partition: number, offset: string, event: AnyEvent, attempt: number): Attributes {
  return {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.consumer.group.name': groupId,
    'messaging.destination.name': topic,
    'messaging.destination.partition.id': String(partition),
    'messaging.kafka.offset': Number(offset),
    'messaging.message.id': event.id,
    'messaging.kafka.message.key': event.key,
    'shop.event.type': event.type,
    'shop.correlation_id': event.correlationId,
    'shop.attempt': attempt,
  };
}

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
 * 2. one script: the partition's stored offset (records before it are skipped; a batch after it means Redis
 *    lost writes, and the partition is rewound to it) and every processed marker of the batch;
 * 3. run the handlers: records grouped by key, each key's records in offset order, different keys at once;
 * 4. one produce request for every event the batch emitted and every dead letter;
 * 5. at once: the handlers' after-emit effects (pub/sub pushes), and one script writing the markers and the
 *    partition's next offset, only if the same Redis run still holds the offset of step 2 (see `checkpoint.ts`).
 * Only then may the caller resolve the batch's offsets. Handler failures are retried per record (forever
 * when `retriable`, else `maxAttempts` times, then dead-lettered) without holding back the other keys'
 * work; Redis and Kafka outages are waited out. A crash anywhere before step 5 applies the batch again,
 * and handlers are idempotent on their own state, so every effect still happens once.
 */
export function createBatchProcessor(opts: BatchProcessorOptions) {
  const { groupId, producer } = opts;
  const log = opts.logger;
  const checkpoints = createCheckpoints(opts.redis, groupId);
  /** Per partition: the stored offset last rewound to, and how many times in a row. */
  const rewinds = new Map<string, { offset: string; times: number }>();
  /**
   * Per partition, what this member knows in the current Redis run: the offset it last wrote (or found) there,
   * and how far it has gone since through records it had nothing to do for. Such records cost no round trip:
   * their offsets are stored with the next batch that does something.
   */
  const known = new Map<string, { runId: string; stored: string | null; next: string }>();
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
          for (const one of Array.isArray(e) ? (e as readonly AnyEvent[]) : [e as AnyEvent]) {
            rememberEmitContext(one);
            events.push(one);
          }
        },
        // Run later, for the whole batch, but still part of this record's trace.
        afterEmit: (effect) => void effects.push(context.bind(context.active(), effect)),
      };
      const span = startSpan(`process ${topic}`, SpanKind.CONSUMER, processAttributes(groupId, topic, partition, message.offset, event, attempt), contextOf(headers));
      try {
        const outcome = await context.with(trace.setSpan(context.active(), span), () => opts.handle(event, ctx));
        if (outcome === 'ignored') span.setAttribute('shop.outcome', 'ignored');
        span.end();
        const marker = outcome === 'ignored' ? null : { key: p.marker, value: `${topic}:${partition}:${message.offset}` };
        return { events, effects, marker, deadLetter: null };
      } catch (err) {
        failSpan(span, err);
        span.end();
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

  /**
   * Where the batch stands against the partition's stored offset: records before it were applied already
   * (Kafka's commits trail Redis), and a batch starting after it follows a loss of Redis writes (rewind).
   */
  function placeBatch(topic: string, partition: number, messages: readonly KafkaMessage[], start: CheckpointStart): { skipBefore: bigint } | BatchOutcome {
    const tp = `${topic}:${partition}`;
    const { stored } = start;
    if (stored === null) return { skipBefore: -1n };
    const first = BigInt(messages[0]!.offset);
    const storedAt = BigInt(stored);
    if (storedAt >= first) {
      rewinds.delete(tp);
      return { skipBefore: storedAt };
    }
    const k = known.get(tp);
    // Later than stored only by records this member skipped since it wrote `stored`, in this same Redis run.
    if (k && k.runId === start.runId && k.stored === stored && k.next === messages[0]!.offset) return { skipBefore: -1n };
    const last = rewinds.get(tp);
    const times = last?.offset === stored ? last.times + 1 : 1;
    if (times > REWINDS_BEFORE_GAP) {
      // Seeking there keeps landing later: the records in between are gone from the log (retention).
      log.error({ topic, partition, stored, first: messages[0]!.offset }, 'records between the stored offset and the log are gone; going on from the log');
      rewinds.delete(tp);
      return { skipBefore: -1n };
    }
    rewinds.set(tp, { offset: stored, times });
    log.warn({ topic, partition, stored, fetched: messages[0]!.offset }, 'Redis is behind the fetch position (lost writes?): applying again from its offset');
    return { kind: 'rewind', offset: stored };
  }

  /** Takes `messages` (one partition's, in offset order) to done; throws `AbortedError` when closing first. */
  async function processBatch(topic: string, partition: number, messages: readonly KafkaMessage[], heartbeat: () => Promise<void>): Promise<BatchOutcome> {
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
        if (opts.accepts && !opts.accepts(event)) {
          done[index] = SKIPPED;
          return;
        }
        parsed.push({ index, p: { message, event, marker: processedKey(groupId, topic, partition, event.id) } });
      } catch (err) {
        // A malformed record never gets better: dead-letter it at once.
        done[index] = deadLetterOf(topic, partition, message, err, 0);
      }
    });

    const tp = `${topic}:${partition}`;
    const next = (BigInt(messages[messages.length - 1]!.offset) + 1n).toString();
    const k = known.get(tp);
    if (parsed.length === 0 && k?.next === messages[0]!.offset && done.every((d) => d === SKIPPED)) {
      k.next = next; // nothing to do: no round trip
      return { kind: 'applied', next };
    }

    // Continuing where this member left the partition, with a handler idempotent on its own: what Redis held at
    // the end of the last batch stands for the start of this one (the end script checks it still holds).
    const continuing = opts.idempotentHandler && k !== undefined && k.stored !== null && k.next === messages[0]!.offset;
    const start: CheckpointStart = continuing
      ? { runId: k.runId, stored: k.stored, processed: parsed.map(() => false) }
      : await untilItWorks('checkpoint lookup', heartbeat, () => checkpoints.start(topic, partition, parsed.map(({ p }) => p.marker)));
    const placed = placeBatch(topic, partition, messages, start);
    if ('kind' in placed) {
      known.delete(tp);
      return placed;
    }
    if (placed.skipBefore >= BigInt(next)) {
      // All applied before (Kafka's commits trail Redis).
      known.set(tp, { runId: start.runId, stored: start.stored, next });
      return { kind: 'applied', next };
    }
    messages.forEach((message, index) => {
      if (BigInt(message.offset) < placed.skipBefore) done[index] = SKIPPED;
    });

    const byKey = new Map<string, { index: number; p: Parsed }[]>();
    const inBatch = new Set<string>();
    parsed.forEach((entry, i) => {
      if (done[entry.index] === SKIPPED) return;
      // Processed before, or earlier in this very batch (a producer retry may write a record twice).
      const duplicate = start.processed[i] === true || inBatch.has(entry.p.event.id);
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
    // Pushes only once Kafka has the events; a crash that loses one still leaves the state and the events right
    // (subscribers repair gaps from the history).
    // Beside them (the pushes are no state, and go out on the same auto-pipelined round trip), after every state
    // change of the batch and its events: the markers and the partition's next offset, in one script.
    const markers = all.flatMap((d) => (d.marker ? [d.marker] : []));
    const [end] = await Promise.all([
      untilItWorks('checkpoint write', heartbeat, () => checkpoints.finish(topic, partition, start, next, markers, opts.processedTtlSeconds)),
      ...all.flatMap((d) => d.effects).map((effect) => untilItWorks('after-emit effect', heartbeat, effect)),
    ]);
    if (!end.written && end.unconfirmed) {
      known.delete(tp);
      log.warn({ topic, partition, masters: end.unconfirmed, batchFrom: messages[0]!.offset }, 'no replica confirmed the batch\'s writes on these masters: applying it again');
      return { kind: 'rewind', offset: end.stored ?? messages[0]!.offset };
    }
    // Refused with our own offset stored: an earlier try was applied and its reply lost.
    if (end.written || end.stored === next) {
      known.set(tp, { runId: start.runId, stored: next, next });
      return { kind: 'applied', next };
    }
    known.delete(tp);
    log.warn({ topic, partition, stored: end.stored, batchFrom: messages[0]!.offset }, 'Redis restarted or moved on during the batch: applying again from its offset');
    return { kind: 'rewind', offset: end.stored ?? messages[0]!.offset };
  }

  return {
    processBatch,
    /** The offset this member last stored per partition: what a Redis that lost writes is checked against. */
    storedPositions(): { topic: string; partition: number; stored: string }[] {
      return [...known].flatMap(([tp, k]) => {
        if (k.stored === null) return [];
        const cut = tp.lastIndexOf(':');
        return [{ topic: tp.slice(0, cut), partition: Number(tp.slice(cut + 1)), stored: k.stored }];
      });
    },
    /** Per partition this member holds, the next offset to read: everything before it is applied (or skipped). */
    appliedPositions(): { topic: string; partition: number; next: string }[] {
      return [...known].map(([tp, k]) => {
        const cut = tp.lastIndexOf(':');
        return { topic: tp.slice(0, cut), partition: Number(tp.slice(cut + 1)), next: k.next };
      });
    },
    /** Forgets a partition (rewound, or given to another member): its next batch reads Redis again. */
    forget(topic?: string, partition?: number): void {
      if (topic === undefined) known.clear();
      else known.delete(`${topic}:${partition}`);
    },
  };
}
