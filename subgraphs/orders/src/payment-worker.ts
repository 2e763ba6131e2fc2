import type { RedisClient as Redis } from '@shop/events';
import type { Logger } from 'pino';
import { createEvent, deterministicEventId, type AnyEvent } from '@shop/events';
import type { HandleOutcome, HandlerContext } from '@shop/events/kafka';
import { orderKeys } from './keys.js';
import type { PaymentAnswer, PaymentRequest } from './order-decider.js';
import type { PaymentProvider, PaymentResult } from './payment-provider.js';
import type { OrderStore } from './read-model.js';

export interface PaymentWorkerDeps {
  readonly redis: Redis;
  /** Where the provider's answers are kept. */
  readonly store: Pick<OrderStore, 'paymentAnswer' | 'keepPaymentAnswer'>;
  readonly provider: PaymentProvider;
  readonly logger: Logger;
  /** Longest wait for the provider; after it the worker gives up without answering (the saga deadline cancels). */
  readonly timeoutMs: number;
}

/** A provider's answer for the saga: its event, and its JSON when it is not kept yet (the saga keeps it with its changes). */
export interface InlineAnswer {
  readonly event: PaymentAnswer;
  readonly unkept: string | null;
}

/** The one event the payment worker handles. */
export const PAYMENT_WORKER_TYPES = ['PaymentAuthorizationRequested'] as const;

/** The answer event of a request: one id per order, whichever path asked the provider. */
function answerEvent(request: PaymentRequest, result: PaymentResult): PaymentAnswer {
  const { orderId } = request.payload;
  const meta = { key: orderId, correlationId: request.correlationId, causationId: request.id, id: deterministicEventId('PaymentResult', orderId) };
  return result.approved
    ? createEvent('PaymentAuthorized', { orderId, authorizationId: result.authorizationId }, meta)
    : createEvent('PaymentDeclined', { orderId, reason: result.reason }, meta);
}

/**
 * Payments of orders, asked of the provider with a bounded wait. Two ways in:
 * - `answerWithin`: the saga asks while deciding the reservation, with a short wait, so a provider that answers
 *   at once settles the order in the same step (no Kafka round trip through this worker and back);
 * - `handle`: PaymentAuthorizationRequested from its own consumer group, published only when the saga's short
 *   wait ran out; emits PaymentAuthorized / PaymentDeclined.
 * Either way the provider's answer is kept (the first one kept wins) before or with what acts on it, so a
 * redelivery re-publishes the same answer and never charges twice.
 */
export function createPaymentWorker(deps: PaymentWorkerDeps) {
  async function authorizeBounded(req: PaymentRequest['payload'], waitMs: number): Promise<PaymentResult | null> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve(null);
      }, waitMs);
    });
    try {
      return await Promise.race([deps.provider.authorize(req, controller.signal).catch(() => null), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The answer kept for `request`'s order, if any: how a redelivery publishes again what an answer caused. */
  async function keptAnswer(request: PaymentRequest): Promise<InlineAnswer | null> {
    const kept = await deps.store.paymentAnswer(request.payload.orderId);
    return kept ? { event: answerEvent(request, JSON.parse(kept) as PaymentResult), unkept: null } : null;
  }

  /**
   * The answer to `request` if the provider gives it within `waitMs`, else null (the saga then publishes the
   * request for `handle`). Not kept here: the saga keeps it in the script that stores what it decided on it.
   * `lookUp`: an earlier attempt may have kept one (a redelivery, or a replica that was first), taken first.
   * The provider is asked with the order id, which a real provider's adapter passes on as the idempotency key:
   * an attempt that died before keeping its answer asks again, and must get the same authorization.
   */
  async function answerWithin(request: PaymentRequest, waitMs: number, lookUp: boolean): Promise<InlineAnswer | null> {
    const kept = lookUp ? await keptAnswer(request) : null;
    if (kept) return kept;
    const result = await authorizeBounded(request.payload, waitMs);
    return result && { event: answerEvent(request, result), unkept: JSON.stringify(result) };
  }

  async function handle(event: AnyEvent, ctx: Pick<HandlerContext, 'emit'>): Promise<HandleOutcome> {
    if (event.type !== 'PaymentAuthorizationRequested') return 'ignored';
    const { orderId } = event.payload;
    // An order that is already final (cancelled by the deadline or the customer) is not charged.
    const [status, kept] = await Promise.all([deps.redis.hget(orderKeys.order(orderId), 'status'), deps.store.paymentAnswer(orderId)]);
    if (status === 'CANCELLED' || status === 'REJECTED' || status === 'CONFIRMED') return 'ignored';
    let result: PaymentResult | null = kept ? (JSON.parse(kept) as PaymentResult) : null;
    if (!result) {
      result = await authorizeBounded(event.payload, deps.timeoutMs);
      if (!result) {
        deps.logger.warn({ orderId, timeoutMs: deps.timeoutMs }, 'payment provider did not answer in time; leaving the order to the saga deadline');
        return 'ignored';
      }
      // The answer kept first wins (a replica racing on a redelivery may have asked too).
      const earlier = await deps.store.keepPaymentAnswer(orderId, JSON.stringify(result));
      if (earlier) result = JSON.parse(earlier) as PaymentResult;
    }
    ctx.emit(answerEvent(event, result));
    return 'ok';
  }

  return { handle, answerWithin, keptAnswer };
}

export type PaymentWorker = ReturnType<typeof createPaymentWorker>;
