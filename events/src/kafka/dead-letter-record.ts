import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import { DLQ_HEADERS, HEADERS, REDRIVEN_FROM_HEADER, sourceTopicOf } from '../contracts/topics.js';
import { EventContractError } from '../errors.js';
import { headersToStrings } from './headers.js';

/** Error text longer than this is cut: a header is not the place for a stack trace. */
const MAX_ERROR_HEADER_CHARS = 2_000;

/** Where a record failed: its position in the source topic and the group that gave up on it. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
  offset: string;
  groupId: string;
}

/** The bits of a consumed record a dead letter keeps, unchanged. */
export type OriginalRecord = Pick<KafkaMessage, 'key' | 'value' | 'headers'>;

/**
 * A dead letter: the original key, value bytes and headers, plus `x-dlq-*` headers saying where it came
 * from and why it failed (any `x-dlq-*` of an earlier failure is replaced, not repeated).
 */
export function buildDeadLetter(original: OriginalRecord, source: DeadLetterSource, error: unknown, attempts: number, failedAt: Date): Message {
  return {
    key: original.key,
    value: original.value,
    headers: {
      ...withoutDeadLetterHeaders(original.headers),
      [DLQ_HEADERS.error]: errorText(error),
      [DLQ_HEADERS.sourceTopic]: source.topic,
      [DLQ_HEADERS.sourcePartition]: String(source.partition),
      [DLQ_HEADERS.sourceOffset]: source.offset,
      [DLQ_HEADERS.consumerGroup]: source.groupId,
      [DLQ_HEADERS.failedAt]: failedAt.toISOString(),
      [DLQ_HEADERS.attempts]: String(attempts),
    },
  };
}

/**
 * The record a re-drive publishes back to the source topic: the original key, bytes and headers, the
 * `x-dlq-*` headers dropped, and `x-redriven-from` naming the dead letter.
 */
export function buildRedrive(deadLetter: OriginalRecord, dlq: { topic: string; partition: number; offset: string }): Message {
  return {
    key: deadLetter.key,
    value: deadLetter.value,
    headers: {
      ...withoutDeadLetterHeaders(deadLetter.headers),
      [REDRIVEN_FROM_HEADER]: `${dlq.topic}:${dlq.partition}:${dlq.offset}`,
    },
  };
}

export function withoutDeadLetterHeaders(headers: IHeaders | undefined): IHeaders {
  const dlqNames = new Set<string>([...Object.values(DLQ_HEADERS), REDRIVEN_FROM_HEADER]);
  return Object.fromEntries(Object.entries(headers ?? {}).filter(([name, value]) => !dlqNames.has(name) && value !== undefined));
}

/** `Name: message` (with the cause's message when there is one), cut to fit a header. */
export function errorText(error: unknown): string {
  let text: string;
  if (error instanceof Error) {
    text = `${error.name}: ${error.message}`;
    const cause = error.cause;
    // A contract error's message already names the fields from its cause (a ZodError); others may not.
    if (cause instanceof Error && !(error instanceof EventContractError) && !error.message.includes(cause.message)) {
      text += ` (cause: ${cause.name}: ${cause.message})`;
    }
  } else {
    text = String(error);
  }
  return text.length > MAX_ERROR_HEADER_CHARS ? `${text.slice(0, MAX_ERROR_HEADER_CHARS - 1)}…` : text;
}

/** A dead letter as the CLI shows it. */
export interface DeadLetter {
  /** Position in the dead-letter topic (what `redrive --offset` names). */
  dlqTopic: string;
  partition: number;
  offset: string;
  sourceTopic: string;
  sourcePartition: number | null;
  sourceOffset: string | null;
  consumerGroup: string | null;
  error: string;
  failedAt: string | null;
  attempts: number | null;
  /** From the headers, else from the JSON body; `null` when neither says (garbage bytes). */
  eventType: string | null;
  eventId: string | null;
  key: string | null;
  /** The original record, for re-drive. */
  record: OriginalRecord;
}

export function decodeDeadLetter(dlqTopic: string, partition: number, message: KafkaMessage): DeadLetter {
  const h = headersToStrings(message.headers);
  const body = tryJson(message.value);
  const sourcePartition = h[DLQ_HEADERS.sourcePartition];
  const attempts = h[DLQ_HEADERS.attempts];
  return {
    dlqTopic,
    partition,
    offset: message.offset,
    sourceTopic: h[DLQ_HEADERS.sourceTopic] ?? sourceTopicOf(dlqTopic),
    sourcePartition: sourcePartition === undefined ? null : Number(sourcePartition),
    sourceOffset: h[DLQ_HEADERS.sourceOffset] ?? null,
    consumerGroup: h[DLQ_HEADERS.consumerGroup] ?? null,
    error: h[DLQ_HEADERS.error] ?? '(no x-dlq-error header)',
    failedAt: h[DLQ_HEADERS.failedAt] ?? null,
    attempts: attempts === undefined ? null : Number(attempts),
    eventType: h[HEADERS.eventType] ?? stringField(body, 'type'),
    eventId: h[HEADERS.eventId] ?? stringField(body, 'id'),
    key: message.key === null ? null : message.key.toString(),
    record: { key: message.key, value: message.value, headers: message.headers },
  };
}

function tryJson(value: Buffer | null): unknown {
  if (value === null) return undefined;
  try {
    return JSON.parse(value.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function stringField(obj: unknown, field: string): string | null {
  const v = typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[field] : undefined;
  return typeof v === 'string' ? v : null;
}
