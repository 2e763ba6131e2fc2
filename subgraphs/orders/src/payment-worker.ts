import type { RedisClient as Redis } from '@shop/events';
import type { Logger } from 'pino';
import { createEvent, deterministicEventId, type AnyEvent } from '@shop/events';
import type { HandleOutcome, HandlerContext } from '@shop/events/kafka';
import { orderKeys } from './keys.js';
import type { PaymentAnswer, PaymentRequest } from './order-decider.js';
import type { PaymentProvider, PaymentResult } from './payment-provider.js';

export interface PaymentWorkerDeps {
  readonly redis: Redis;
  readonly provider: PaymentProvider;
  readonly logger: Logger;
  /** Longest wait for the provider; after it the worker gives up without answering (the saga deadline cancels). */
  readonly timeoutMs: number;
}

/** Keep a provider answer long enough to cover any redelivery. */
const ANSWER_TTL_SECONDS = 7 * 24 * 3600;

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
 * Either way the provider's answer is stored (first one wins) before anything acts on it, so a redelivery
 * re-publishes the same answer and never charges twice.
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

  /** The stored answer, or the provider's within `waitMs` stored (SET NX GET: an answer stored earlier wins). */
  async function settle(request: PaymentRequest, waitMs: number, stored: string | null): Promise<PaymentResult | null> {
    if (stored) return JSON.parse(stored) as PaymentResult;
    const result = await authorizeBounded(request.payload, waitMs);
    if (!result) return null;
    const earlier = await deps.redis.set(orderKeys.payment(request.payload.orderId), JSON.stringify(result), 'EX', ANSWER_TTL_SECONDS, 'NX', 'GET');
    return earlier ? (JSON.parse(earlier) as PaymentResult) : result;
  }

  /**
   * The answer to `request` if the provider gives it within `waitMs`, else null (the saga then publishes the
   * request for `handle`). `lookUp`: an earlier attempt may have stored one (a redelivery), read it first.
   */
  async function answerWithin(request: PaymentRequest, waitMs: number, lookUp: boolean): Promise<PaymentAnswer | null> {
    const stored = lookUp ? await deps.redis.get(orderKeys.payment(request.payload.orderId)) : null;
    const result = await settle(request, waitMs, stored);
    return result && answerEvent(request, result);
  }

  async function handle(event: AnyEvent, ctx: Pick<HandlerContext, 'emit'>): Promise<HandleOutcome> {
    if (event.type !== 'PaymentAuthorizationRequested') return 'ignored';
    const { orderId } = event.payload;
    // An order that is already final (cancelled by the deadline or the customer) is not charged.
    const [status, stored] = await Promise.all([deps.redis.hget(orderKeys.order(orderId), 'status'), deps.redis.get(orderKeys.payment(orderId))]);
    if (status === 'CANCELLED' || status === 'REJECTED' || status === 'CONFIRMED') return 'ignored';
    const result = await settle(event, deps.timeoutMs, stored);
    if (!result) {
      deps.logger.warn({ orderId, timeoutMs: deps.timeoutMs }, 'payment provider did not answer in time; leaving the order to the saga deadline');
      return 'ignored';
    }
    ctx.emit(answerEvent(event, result));
    return 'ok';
  }

  return { handle, answerWithin };
}

export type PaymentWorker = ReturnType<typeof createPaymentWorker>;
