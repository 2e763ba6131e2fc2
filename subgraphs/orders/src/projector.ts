import type { Logger } from 'pino';
import { EventError, type AnyEvent } from '@shop/events';
import type { OrderStore } from './read-model.js';

/**
 * Projection only (no decisions, no publishing): the order read model from OrderPlaced and
 * OrderStatusChanged, and orders' own catalog from ProductRegistered. Used live (its own consumer
 * group, so it never waits behind the saga) and by `npm run rebuild-read-models`.
 */
/** What the projector reads (its consumer skips the others unparsed). */
export const ORDERS_PROJECTED_TYPES = ['OrderPlaced', 'OrderStatusChanged', 'ProductRegistered'] as const;

export function createOrdersProjector(deps: { store: OrderStore; logger: Logger }) {
  async function project(event: AnyEvent): Promise<'ok' | 'ignored'> {
    switch (event.type) {
      case 'OrderPlaced': {
        const p = event.payload;
        const written = await deps.store.place({
          id: p.orderId,
          customerId: p.customerId,
          lines: p.lines,
          total: p.total,
          paymentToken: p.paymentToken,
          createdAt: event.occurredAt,
          deadlineAt: p.deadlineAt,
          idempotencyKey: p.idempotencyKey,
        });
        return written ? 'ok' : 'ignored';
      }
      case 'OrderStatusChanged': {
        const p = event.payload;
        const r = await deps.store.projectChange(p, event.causationId ? `${event.causationId}:${p.status}` : null);
        if (r === -1) throw new EventError(`OrderStatusChanged for unknown order ${p.orderId}`, { retriable: false });
        if (r === -2) throw new EventError(`OrderStatusChanged ${p.orderId}#${p.sequence} arrived before an earlier change`, { retriable: false });
        return r === 1 ? 'ok' : 'ignored';
      }
      case 'ProductRegistered': {
        const p = event.payload;
        await deps.store.putCatalog(p.productId, { name: p.name, price: p.price });
        return 'ok';
      }
      case 'OrderCancellationRequested':
      case 'PaymentAuthorizationRequested':
      case 'PaymentAuthorized':
      case 'PaymentDeclined':
      case 'ProductRestocked':
      case 'StockReserved':
      case 'StockReservationRejected':
      case 'StockReleased':
      case 'StockCommitted':
        return 'ignored';
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  }
  return { project };
}
