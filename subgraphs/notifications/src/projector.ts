import type { AnyEvent, OrderStatus } from '@shop/events';
import { notificationIdFor, type NotificationRecord, type NotificationStore } from './read-model.js';

/** The changes a customer is told about, and how. Intermediate steps are not worth a notification. */
export function describeChange(status: OrderStatus, orderId: string, reason: string | null): { kind: string; message: string } | null {
  switch (status) {
    case 'CONFIRMED':
      return { kind: 'ORDER_CONFIRMED', message: `Your order ${orderId} is confirmed.` };
    case 'REJECTED':
      return { kind: 'ORDER_REJECTED', message: `Your order ${orderId} was rejected${reason ? `: ${reason}` : '.'}` };
    case 'CANCELLED':
      return { kind: 'ORDER_CANCELLED', message: `Your order ${orderId} was cancelled${reason ? `: ${reason}` : '.'}` };
    case 'PENDING':
    case 'INVENTORY_RESERVED':
    case 'PAYMENT_AUTHORIZED':
      return null;
    default: {
      const _exhaustive: never = status;
      return _exhaustive;
    }
  }
}

/**
 * Projection: OrderStatusChanged → a notification (idempotent by the event's id). Used live by the
 * consumer (which then publishes it) and by the rebuild command. Returns the notification when it
 * was recorded now.
 */
export function createNotificationsProjector(deps: { store: NotificationStore }) {
  async function project(event: AnyEvent): Promise<NotificationRecord | null> {
    if (event.type !== 'OrderStatusChanged') return null;
    const p = event.payload;
    const described = describeChange(p.status, p.orderId, p.reason);
    if (!described) return null;
    const record = { id: notificationIdFor(event.id), orderId: p.orderId, customerId: p.customerId, createdAt: p.at, ...described };
    return (await deps.store.record(record)) ? { ...record, read: false } : null;
  }
  return { project };
}
