import { EventError, type AnyEvent } from '@shop/events';
import type { StockStore } from './read-model.js';

/**
 * Projection only (no decisions, no publishing): stock from ProductRegistered, ProductRestocked,
 * StockReserved, StockReservationRejected, StockReleased and StockCommitted. Live, it applies the
 * catalog and restocks, and finds our own reservation events already applied; the rebuild command
 * runs it over the whole log. Returns the product ids whose stock changed.
 */
export function createInventoryProjector(deps: { store: StockStore }) {
  const { store } = deps;
  async function project(event: AnyEvent): Promise<string[] | null> {
    switch (event.type) {
      case 'ProductRegistered': {
        const p = event.payload;
        const added = await store.register({ productId: p.productId, name: p.name, description: p.description, price: p.price, initialStock: p.initialStock });
        return added ? [p.productId] : [];
      }
      case 'ProductRestocked': {
        const r = await store.restock(event.id, event.payload.productId, event.payload.quantity);
        return r === null ? [] : [event.payload.productId];
      }
      case 'StockReserved': {
        const r = await store.reserve(event.payload.orderId, event.payload.lines, false);
        if (r.status === 'rejected') throw new EventError(`StockReserved for ${event.payload.orderId}, which was rejected`, { retriable: false });
        return event.payload.lines.map((l) => l.productId);
      }
      case 'StockReservationRejected':
        await store.recordRejection(event.payload.orderId, event.payload.reason, event.payload.productId);
        return [];
      case 'StockReleased':
      case 'StockCommitted': {
        const { outcome, lines } = await store.settle(event.payload.orderId, event.type === 'StockCommitted' ? 'commit' : 'release');
        return outcome === 'applied' ? lines.map((l) => l.productId) : [];
      }
      case 'OrderPlaced':
      case 'OrderCancellationRequested':
      case 'OrderStatusChanged':
      case 'PaymentAuthorizationRequested':
      case 'PaymentAuthorized':
      case 'PaymentDeclined':
        return null;
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  }
  return { project };
}
export type InventoryProjector = ReturnType<typeof createInventoryProjector>;
