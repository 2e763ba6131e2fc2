import type { Logger } from 'pino';
import type { RedisPubSub } from 'graphql-redis-subscriptions';
import { createEvent, deterministicEventId, type AnyEvent } from '@shop/events';
import type { EventProducer } from '@shop/events/kafka';
import { inventoryChannels } from './keys.js';
import type { InventoryProjector } from './projector.js';
import type { StockLine, StockStore } from './read-model.js';

export interface StockHandlerDeps {
  readonly store: StockStore;
  readonly projector: InventoryProjector;
  readonly producer: EventProducer;
  readonly pubsub: RedisPubSub;
  readonly logger: Logger;
}

/**
 * Inventory's decisions: OrderPlaced → reserve all lines (one Lua script) → StockReserved or
 * StockReservationRejected; OrderStatusChanged CONFIRMED → commit once (StockCommitted), CANCELLED →
 * release once (StockReleased). Every step is idempotent on the store and publishes with a
 * deterministic event id, so a redelivery after a crash re-publishes the same events and changes
 * nothing. Inventory's own events are handed to the projector.
 */
export function createStockHandler(deps: StockHandlerDeps) {
  const { store, producer } = deps;

  async function announce(productIds: Iterable<string>): Promise<void> {
    for (const productId of new Set(productIds)) await deps.pubsub.publish(inventoryChannels.stock(productId), { productId });
  }

  async function settle(event: AnyEvent & { type: 'OrderStatusChanged' }, action: 'commit' | 'release'): Promise<'ok' | 'ignored'> {
    const { orderId } = event.payload;
    const { outcome, lines } = await store.settle(orderId, action);
    const done = action === 'commit' ? 'committed' : 'released';
    if (outcome !== 'applied' && outcome !== done) return 'ignored';
    const meta = { key: orderId, correlationId: event.correlationId, causationId: event.id, id: deterministicEventId(action === 'commit' ? 'StockCommitted' : 'StockReleased', orderId) };
    const stockLines: StockLine[] = lines.map((l) => ({ productId: l.productId, quantity: l.quantity }));
    await producer.publish(action === 'commit' ? createEvent('StockCommitted', { orderId, lines: stockLines }, meta) : createEvent('StockReleased', { orderId, lines: stockLines }, meta));
    if (outcome === 'applied') await announce(lines.map((l) => l.productId));
    return 'ok';
  }

  async function handle(event: AnyEvent): Promise<'ok' | 'ignored'> {
    switch (event.type) {
      case 'OrderPlaced': {
        const { orderId, lines } = event.payload;
        const r = await store.reserve(orderId, lines);
        const meta = { key: orderId, correlationId: event.correlationId, causationId: event.id, id: deterministicEventId('StockReservation', orderId) };
        if (r.status === 'reserved') {
          await producer.publish(createEvent('StockReserved', { orderId, lines: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })) }, meta));
          await announce(lines.map((l) => l.productId));
          return 'ok';
        }
        if (r.status === 'rejected') {
          await producer.publish(createEvent('StockReservationRejected', { orderId, reason: r.reason ?? 'not enough stock', productId: r.productId }, meta));
          return 'ok';
        }
        // committed / released / void: the order moved on (or was cancelled first); nothing to do.
        return 'ignored';
      }
      case 'OrderStatusChanged':
        if (event.payload.status === 'CONFIRMED') return settle(event, 'commit');
        if (event.payload.status === 'CANCELLED') return settle(event, 'release');
        return 'ignored';
      case 'ProductRegistered':
      case 'ProductRestocked':
      case 'StockReserved':
      case 'StockReservationRejected':
      case 'StockReleased':
      case 'StockCommitted': {
        const changed = await deps.projector.project(event);
        if (changed?.length) await announce(changed);
        return changed?.length ? 'ok' : 'ignored';
      }
      case 'OrderCancellationRequested':
      case 'PaymentAuthorizationRequested':
      case 'PaymentAuthorized':
      case 'PaymentDeclined':
        return 'ignored';
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  }

  return { handle, announce };
}
