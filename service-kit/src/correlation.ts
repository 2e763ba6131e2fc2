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
  return typeof value === 'string' && SAFE_ID.test(value) ? value : randomUUID();
}
