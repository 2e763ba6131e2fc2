import { z } from 'zod';
import { Id, Timestamp } from './fields.js';
import type { EventType, PayloadOf } from './registry.js';

/**
 * The JSON record value of every event. The payload is checked separately, against the schema of the
 * envelope's `type` and `version`, so that an error can name the event it is about.
 */
export const EnvelopeSchema = z.object({
  id: Id,
  type: z.string().min(1),
  version: z.number().int().positive(),
  occurredAt: Timestamp,
  correlationId: z.string().min(1),
  /** The id of the event (or request) that caused this one; `null` for a root cause. */
  causationId: z.string().min(1).nullable(),
  /** The record key: the aggregate id (orderId, productId). */
  key: z.string().min(1),
  payload: z.unknown(),
});

export interface EventEnvelope<T extends EventType = EventType> {
  readonly id: string;
  readonly type: T;
  /** Always the latest version once parsed: older versions are upcast. */
  readonly version: number;
  readonly occurredAt: string;
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly key: string;
  readonly payload: PayloadOf<T>;
}

/** Discriminated union on `type`: a `switch (event.type)` narrows `payload`. */
export type AnyEvent = { [T in EventType]: EventEnvelope<T> }[EventType];

