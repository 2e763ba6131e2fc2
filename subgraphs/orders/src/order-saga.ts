import type { Logger } from 'pino';
import type { RedisPubSub } from 'graphql-redis-subscriptions';
import { createEvent, deterministicEventId, EventError, type AnyEvent, type OrderStatus } from '@shop/events';
import type { EventProducer } from '@shop/events/kafka';
import type { ServiceMetrics } from '@shop/service-kit';
import { orderChannels } from './keys.js';
import { causeKey, type OrderStore, type StatusChange } from './read-model.js';

/** How long an event may wait for its order to appear in the read model before it is dead-lettered. */
const MISSING_ORDER_GRACE_MS = 60_000;

export interface OrderSagaDeps {
  readonly store: OrderStore;
  readonly producer: EventProducer;
  readonly pubsub: RedisPubSub;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly now?: () => Date;
}

export type HandleOutcome = 'ok' | 'ignored';

interface Cause {
  readonly eventId: string;
  readonly correlationId: string;
  readonly occurredAt: string;
}

/** The event id of an order's change number `sequence`: a re-publish after a crash carries the same id. */
export const statusChangedEventId = (orderId: string, sequence: number): string =>
  deterministicEventId('OrderStatusChanged', orderId, String(sequence));

/**
 * The order state machine (orders owns it): reacts to inventory, payment and cancellation events,
 * applies transitions through the one Lua script, then publishes OrderStatusChanged to Kafka and the
 * change to Redis pub/sub. A transition found already applied (redelivery after a crash between
 * the steps) is published again; consumers dedupe by event id, subscribers by sequence.
 */
export function createOrderSaga(deps: OrderSagaDeps) {
  const now = deps.now ?? (() => new Date());

  async function publishChange(change: StatusChange, customerId: string, cause: Cause, extra: readonly AnyEvent[] = []): Promise<void> {
    const event = createEvent(
      'OrderStatusChanged',
      {
        orderId: change.orderId,
        customerId,
        sequence: change.sequence,
        status: change.status,
        previous: change.previous,
        reason: change.reason,
        at: change.at,
      },
      { key: change.orderId, correlationId: cause.correlationId, causationId: cause.eventId, id: statusChangedEventId(change.orderId, change.sequence) },
    );
    await deps.producer.publish([event, ...extra]);
    await deps.pubsub.publish(orderChannels.orderStatus(change.orderId), change);
  }

  /** Applies one transition; null when the order is in a status that does not allow it. */
  async function transition(
    orderId: string,
    cause: Cause,
    to: OrderStatus,
    from: readonly OrderStatus[],
    reason: string | null,
    extra?: (change: StatusChange, customerId: string) => Promise<readonly AnyEvent[]>,
  ): Promise<StatusChange | null> {
    const result = await deps.store.transition({ orderId, cause: causeKey(cause.eventId, to), to, from, reason, at: now().toISOString() });
    switch (result.kind) {
      case 'missing': {
        // Only possible when placeOrder crashed between publishing OrderPlaced and writing the read
        // model: the projector writes it soon, so wait (retriable) — but not forever.
        const ageMs = now().getTime() - Date.parse(cause.occurredAt);
        throw new EventError(`order ${orderId} is not in the read model`, { retriable: ageMs < MISSING_ORDER_GRACE_MS });
      }
      case 'rejected':
        deps.logger.info({ orderId, to, current: result.current }, 'transition not allowed from the current status, ignored');
        return null;
      case 'applied':
      case 'duplicate': {
        if (result.kind === 'applied') deps.metrics.sagaTransitions.inc({ from: result.change.previous ?? 'none', to });
        else deps.logger.info({ orderId, sequence: result.change.sequence }, 'transition already applied, publishing it again');
        const more = extra ? await extra(result.change, result.customerId) : [];
        await publishChange(result.change, result.customerId, cause, more);
        return result.change;
      }
      default: {
        const _exhaustive: never = result;
        return _exhaustive;
      }
    }
  }

  async function handle(event: AnyEvent): Promise<HandleOutcome> {
    const cause: Cause = { eventId: event.id, correlationId: event.correlationId, occurredAt: event.occurredAt };
    switch (event.type) {
      case 'StockReserved': {
        const changed = await transition(event.payload.orderId, cause, 'INVENTORY_RESERVED', ['PENDING'], null, async (change, customerId) => {
          const order = await deps.store.get(change.orderId);
          if (!order) return [];
          return [
            createEvent(
              'PaymentAuthorizationRequested',
              { orderId: order.id, customerId, amount: { amount: order.total.amount, currency: 'USD' }, paymentToken: order.paymentToken },
              { key: order.id, correlationId: cause.correlationId, causationId: cause.eventId, id: deterministicEventId('PaymentAuthorizationRequested', order.id) },
            ),
          ];
        });
        return changed ? 'ok' : 'ignored';
      }
      case 'StockReservationRejected': {
        const changed = await transition(event.payload.orderId, cause, 'REJECTED', ['PENDING'], event.payload.reason);
        return changed ? 'ok' : 'ignored';
      }
      case 'PaymentAuthorized': {
        const authorized = await transition(event.payload.orderId, cause, 'PAYMENT_AUTHORIZED', ['INVENTORY_RESERVED'], null);
        // Also after a crash between the two steps (PAYMENT_AUTHORIZED applied, CONFIRMED not yet).
        const confirmed = await transition(event.payload.orderId, cause, 'CONFIRMED', ['PAYMENT_AUTHORIZED'], null);
        return authorized || confirmed ? 'ok' : 'ignored';
      }
      case 'PaymentDeclined': {
        const changed = await transition(event.payload.orderId, cause, 'CANCELLED', ['PENDING', 'INVENTORY_RESERVED'], `payment declined: ${event.payload.reason}`);
        return changed ? 'ok' : 'ignored';
      }
      case 'OrderCancellationRequested': {
        const changed = await transition(
          event.payload.orderId,
          cause,
          'CANCELLED',
          ['PENDING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED'],
          event.payload.reason,
        );
        return changed ? 'ok' : 'ignored';
      }
      case 'OrderPlaced':
      case 'OrderStatusChanged':
      case 'PaymentAuthorizationRequested':
      case 'ProductRegistered':
      case 'ProductRestocked':
      case 'StockReleased':
      case 'StockCommitted':
        return 'ignored';
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  }

  return { handle, publishChange };
}

export type OrderSaga = ReturnType<typeof createOrderSaga>;
