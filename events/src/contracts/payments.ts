import { z } from 'zod';
import { defineEvent } from './event-definition.js';
import { Id, Money } from './fields.js';
import { TOPICS } from './topics.js';

export const PaymentAuthorizationRequestedV1 = z.object({
  orderId: Id,
  customerId: Id,
  amount: Money,
  /** Simulated provider token: `tok_visa` approves, `tok_declined` declines, `tok_timeout` never answers. */
  paymentToken: z.string().min(1),
});

export const PaymentAuthorizedV1 = z.object({
  orderId: Id,
  authorizationId: Id,
});

export const PaymentDeclinedV1 = z.object({
  orderId: Id,
  reason: z.string(),
});

/** Events on `shop.payments`, keyed by orderId. */
export const PAYMENT_EVENTS = {
  PaymentAuthorizationRequested: defineEvent({
    topic: TOPICS.payments,
    key: 'orderId',
    versions: [PaymentAuthorizationRequestedV1],
    upcasters: [],
  }),
  PaymentAuthorized: defineEvent({ topic: TOPICS.payments, key: 'orderId', versions: [PaymentAuthorizedV1], upcasters: [] }),
  PaymentDeclined: defineEvent({ topic: TOPICS.payments, key: 'orderId', versions: [PaymentDeclinedV1], upcasters: [] }),
} as const;
