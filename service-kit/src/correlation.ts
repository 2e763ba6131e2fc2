import { randomUUID } from 'node:crypto';
import { CORRELATION_HEADER } from './identity.js';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's `x-correlation-id` when it is a sane token, otherwise a new one. */
export function correlationIdFrom(headers: { get(name: string): string | null | undefined } | Record<string, unknown>): string {
  const raw =
    typeof (headers as { get?: unknown }).get === 'function'
      ? (headers as { get(name: string): string | null | undefined }).get(CORRELATION_HEADER)
      : (headers as Record<string, unknown>)[CORRELATION_HEADER];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return typeof value === 'string' && SAFE_ID.test(value) ? value : newCorrelationId();
}

/**
 * A new random id, as one flat string. `randomUUID` joins its text from many small pieces (a tree
 * of about 20 strings, some 450 bytes of heap), and a WebSocket keeps its correlation id for its
 * whole life: a copy read back from bytes is one 36-character string (about 56 bytes).
 */
function newCorrelationId(): string {
  return Buffer.from(randomUUID(), 'latin1').toString('latin1');
}
