import { z } from 'zod';
import { defineEvent } from './event-definition.js';
import { Id, Money, StockLine } from './fields.js';
import { TOPICS } from './topics.js';

/** The first catalog event: a bare price in cents, no description. Superseded by v2; still parsed (upcast). */
export const ProductRegisteredV1 = z.object({
  productId: Id,
  name: z.string().min(1),
  priceCents: z.number().int().nonnegative(),
  initialStock: z.number().int().nonnegative(),
});

export const ProductRegisteredV2 = z.object({
  productId: Id,
  name: z.string().min(1),
  description: z.string(),
  price: Money,
  initialStock: z.number().int().nonnegative(),
});

/** v1 → v2: v1 prices were always USD cents, and v1 had no description. */
export function upcastProductRegisteredV1(v1: z.output<typeof ProductRegisteredV1>): z.input<typeof ProductRegisteredV2> {
  return {
    productId: v1.productId,
    name: v1.name,
    description: '',
    price: { amount: v1.priceCents, currency: 'USD' },
    initialStock: v1.initialStock,
  };
}

export const ProductRestockedV1 = z.object({
  productId: Id,
  quantity: z.number().int().positive(),
});

export const StockReservedV1 = z.object({
  orderId: Id,
  lines: z.array(StockLine).min(1),
});

export const StockReservationRejectedV1 = z.object({
  orderId: Id,
  reason: z.string(),
  /** The product that ran short, when one did. */
  productId: Id.nullable(),
});

export const StockReleasedV1 = z.object({
  orderId: Id,
  lines: z.array(StockLine).min(1),
});

export const StockCommittedV1 = z.object({
  orderId: Id,
  lines: z.array(StockLine).min(1),
});

/** Events on `shop.inventory`: catalog events keyed by productId, reservation events by orderId. */
export const INVENTORY_EVENTS = {
  ProductRegistered: defineEvent({
    topic: TOPICS.inventory,
    key: 'productId',
    versions: [ProductRegisteredV1, ProductRegisteredV2],
    upcasters: [upcastProductRegisteredV1],
  }),
  ProductRestocked: defineEvent({ topic: TOPICS.inventory, key: 'productId', versions: [ProductRestockedV1], upcasters: [] }),
  StockReserved: defineEvent({ topic: TOPICS.inventory, key: 'orderId', versions: [StockReservedV1], upcasters: [] }),
  StockReservationRejected: defineEvent({
    topic: TOPICS.inventory,
    key: 'orderId',
    versions: [StockReservationRejectedV1],
    upcasters: [],
  }),
  StockReleased: defineEvent({ topic: TOPICS.inventory, key: 'orderId', versions: [StockReleasedV1], upcasters: [] }),
  StockCommitted: defineEvent({ topic: TOPICS.inventory, key: 'orderId', versions: [StockCommittedV1], upcasters: [] }),
} as const;
