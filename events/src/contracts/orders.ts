import { z } from 'zod';
import { defineEvent } from './event-definition.js';
import { Id, Money, Timestamp } from './fields.js';
import { TOPICS } from './topics.js';

/** The order state machine's states (orders owns it; docs/architecture.md "The saga"). */
export const ORDER_STATUSES = [
  'PENDING',
  'INVENTORY_RESERVED',
  'PAYMENT_AUTHORIZED',
  'CONFIRMED',
  'REJECTED',
  'CANCELLED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const OrderStatusSchema = z.enum(ORDER_STATUSES);

export const OrderLine = z.object({
  productId: Id,
  quantity: z.number().int().positive(),
  unitPrice: Money,
});

export const OrderPlacedV1 = z.object({
  orderId: Id,
  customerId: Id,
  lines: z.array(OrderLine).min(1),
  total: Money,
  paymentToken: z.string().min(1),
  idempotencyKey: z.string().min(1).nullable(),
  /** When the saga deadline cancels the order if it is still not final. */
  deadlineAt: Timestamp,
});

export const OrderCancellationRequestedV1 = z.object({
  orderId: Id,
  /** A customer id, or `system` for the saga deadline. */
  requestedBy: z.string().min(1),
  reason: z.string(),
});

export const OrderStatusChangedV1 = z.object({
  orderId: Id,
  customerId: Id,
  /** Per-order, starts at 1, no gaps: subscribers resume after the last sequence they saw. */
  sequence: z.number().int().positive(),
  status: OrderStatusSchema,
  previous: OrderStatusSchema.nullable(),
  reason: z.string().nullable(),
  at: Timestamp,
});

/** Events on `shop.orders`, keyed by orderId. */
export const ORDER_EVENTS = {
  OrderPlaced: defineEvent({ topic: TOPICS.orders, key: 'orderId', versions: [OrderPlacedV1], upcasters: [] }),
  OrderCancellationRequested: defineEvent({
    topic: TOPICS.orders,
    key: 'orderId',
    versions: [OrderCancellationRequestedV1],
    upcasters: [],
  }),
  OrderStatusChanged: defineEvent({ topic: TOPICS.orders, key: 'orderId', versions: [OrderStatusChangedV1], upcasters: [] }),
} as const;
