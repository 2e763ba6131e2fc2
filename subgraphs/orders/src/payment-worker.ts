import type { RedisClient as Redis } from '@shop/events';
import type { Logger } from 'pino';
import { createEvent, deterministicEventId, type AnyEvent } from '@shop/events';
import type { HandleOutcome, HandlerContext } from '@shop/events/kafka';
import { orderKeys } from './keys.js';
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

/**
 * Consumes PaymentAuthorizationRequested (own consumer group), asks the provider with a bounded
 * wait and emits PaymentAuthorized / PaymentDeclined. The provider's answer is stored before it is
 * published, so a redelivery re-publishes the same answer and never charges twice.
 */
/** The one event the payment worker handles. */
export const PAYMENT_WORKER_TYPES = ['PaymentAuthorizationRequested'] as const;

export function createPaymentWorker(deps: PaymentWorkerDeps) {
  async function authorizeBounded(req: Parameters<PaymentProvider['authorize']>[0]): Promise<PaymentResult | null> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve(null);
      }, deps.timeoutMs);
    });
    try {
      return await Promise.race([deps.provider.authorize(req, controller.signal).catch(() => null), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function handle(event: AnyEvent, ctx: Pick<HandlerContext, 'emit'>): Promise<HandleOutcome> {
    if (event.type !== 'PaymentAuthorizationRequested') return 'ignored';
    const { orderId } = event.payload;
    const key = orderKeys.payment(orderId);
    // An order that is already final (cancelled by the deadline or the customer) is not charged.
    const [status, stored] = await Promise.all([deps.redis.hget(orderKeys.order(orderId), 'status'), deps.redis.get(key)]);
    if (status === 'CANCELLED' || status === 'REJECTED' || status === 'CONFIRMED') return 'ignored';
    let result: PaymentResult | null = stored ? (JSON.parse(stored) as PaymentResult) : null;
    if (!result) {
      result = await authorizeBounded(event.payload);
      if (!result) {
        deps.logger.warn({ orderId, timeoutMs: deps.timeoutMs }, 'payment provider did not answer in time; leaving the order to the saga deadline');
        return 'ignored';
      }
      // SET NX GET: the answer stored first wins (a replica racing on a redelivery may have asked too).
      const earlier = await deps.redis.set(key, JSON.stringify(result), 'EX', ANSWER_TTL_SECONDS, 'NX', 'GET');
      if (earlier) result = JSON.parse(earlier) as PaymentResult;
    }
    const meta = { key: orderId, correlationId: event.correlationId, causationId: event.id, id: deterministicEventId('PaymentResult', orderId) };
    const answer = result.approved
      ? createEvent('PaymentAuthorized', { orderId, authorizationId: result.authorizationId }, meta)
      : createEvent('PaymentDeclined', { orderId, reason: result.reason }, meta);
    ctx.emit(answer);
    return 'ok';
  }

  return { handle };
}
