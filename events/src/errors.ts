/**
 * The one base error of `@shop/events` (after kafkajs' `KafkaJSError`): the consumer runner decides between
 * "retry with backoff" and "retry a few times, then dead-letter" from `retriable` alone.
 */
export class EventError extends Error {
  /** `true` when trying again later may succeed (a dependency is down); `false` for bad input or a bug. */
  readonly retriable: boolean;

  constructor(message: string, opts: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'EventError';
    this.retriable = opts.retriable ?? false;
  }
}

/** Where in an event a contract violation was found; every part is optional because parsing may fail early. */
export interface EventContractLocation {
  /** The event type, when the envelope got that far (`OrderPlaced`). */
  eventType?: string;
  /** The event version, when known. */
  eventVersion?: number;
  /** Dotted path of the offending field (`payload.lines.0.quantity`). */
  path?: string;
}

/** An event that does not match its contract: never retriable, a consumer dead-letters it at once. */
export class EventContractError extends EventError {
  readonly eventType: string | undefined;
  readonly eventVersion: number | undefined;
  readonly path: string | undefined;

  constructor(message: string, opts: EventContractLocation & { cause?: unknown } = {}) {
    super(message, { retriable: false, cause: opts.cause });
    this.name = 'EventContractError';
    this.eventType = opts.eventType;
    this.eventVersion = opts.eventVersion;
    this.path = opts.path;
  }
}

/** `retriable` of any error: ours and kafkajs' carry the flag; anything else (a plain `Error`) is not retriable. */
export function isRetriable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}
