import type { z } from 'zod';
import { EventContractError } from '../errors.js';
import { type AnyEvent, EnvelopeSchema } from './envelope.js';
import { EVENT_TYPES, type EventType, definitionOf, isEventType, latestVersion, payloadSchema } from './registry.js';

/** How many zod issues an error message lists before "and N more". */
const MAX_ISSUES_IN_MESSAGE = 5;

/**
 * Parses a raw record value (Buffer, string, or already-decoded JSON) into a typed event at its latest
 * version: JSON → envelope schema → the schema of the envelope's type and version → upcast step by step.
 * Throws `EventContractError` (never retriable) naming the type, version and field that failed.
 */
export function parseEvent(raw: unknown): AnyEvent {
  const json = decodeJson(raw);
  const envelope = EnvelopeSchema.safeParse(json);
  if (!envelope.success) {
    const type = typeof (json as { type?: unknown } | null)?.type === 'string' ? (json as { type: string }).type : undefined;
    const first = envelope.error.issues[0];
    throw new EventContractError(`invalid event envelope${type ? ` (${type})` : ''}: ${formatIssues(envelope.error.issues)}`, {
      eventType: type,
      path: first ? formatPath(first.path) : undefined,
      cause: envelope.error,
    });
  }
  const { type, version } = envelope.data;
  if (!isEventType(type)) {
    throw new EventContractError(`unknown event type "${type}" (known: ${EVENT_TYPES.join(', ')})`, { eventType: type, eventVersion: version });
  }
  const payload = upcastPayload(type, version, envelope.data.payload);
  return { ...envelope.data, type, version: latestVersion(type), payload } as AnyEvent;
}

/**
 * Validates `payload` against `type` v`version`, then runs the upcasters up to the latest version, validating
 * each step's output against the next version's schema (so a buggy upcaster is caught here, not in a handler).
 */
export function upcastPayload(type: EventType, version: number, payload: unknown): unknown {
  const latest = latestVersion(type);
  let current = validatePayload(type, version, payload);
  const { upcasters } = definitionOf(type);
  for (let v = version; v < latest; v++) {
    const upcaster = upcasters[v - 1] as unknown as (p: unknown) => unknown;
    let next: unknown;
    try {
      next = upcaster(current);
    } catch (cause) {
      throw new EventContractError(`${type} v${v} → v${v + 1}: upcaster failed: ${(cause as Error).message}`, {
        eventType: type,
        eventVersion: v,
        cause,
      });
    }
    current = validatePayload(type, v + 1, next, ` (upcast from v${version})`);
  }
  return current;
}

/** Checks a payload against one version's schema and returns the schema's output (unknown keys stripped). */
export function validatePayload(type: EventType, version: number, payload: unknown, note = ''): unknown {
  const schema = payloadSchema(type, version);
  if (!schema) {
    throw new EventContractError(`${type} has no version ${version} (known: 1..${latestVersion(type)})`, {
      eventType: type,
      eventVersion: version,
      path: 'version',
    });
  }
  const result = schema.safeParse(payload);
  if (!result.success) {
    const first = result.error.issues[0];
    throw new EventContractError(`invalid ${type} v${version} payload${note}: ${formatIssues(result.error.issues, 'payload')}`, {
      eventType: type,
      eventVersion: version,
      path: first ? formatPath(['payload', ...first.path]) : 'payload',
      cause: result.error,
    });
  }
  return result.data;
}

function decodeJson(raw: unknown): unknown {
  if (raw === null || raw === undefined) throw new EventContractError('empty record value (no event)');
  let text: string;
  if (typeof raw === 'string') text = raw;
  else if (raw instanceof Uint8Array) text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  else return raw; // already decoded JSON
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    const preview = text.length > 60 ? `${text.slice(0, 60)}…` : text;
    throw new EventContractError(`record value is not JSON (${(cause as Error).message}): ${JSON.stringify(preview)}`, { cause });
  }
}

export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix?: string): string {
  const shown = issues.slice(0, MAX_ISSUES_IN_MESSAGE).map((issue) => {
    const path = formatPath(prefix ? [prefix, ...issue.path] : issue.path);
    return `${path || '(root)'}: ${issue.message}`;
  });
  const more = issues.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}
