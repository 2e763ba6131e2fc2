import type { Logger } from 'pino';
import type { ChannelPubSub } from '@shop/service-kit';
import { createEvent, deterministicEventId, type AnyEvent } from '@shop/events';
import type { HandleOutcome, HandlerContext } from '@shop/events/kafka';
import { inventoryChannels } from './keys.js';
import type { InventoryProjector } from './projector.js';
import type { StockLine, StockStore } from './read-model.js';

export interface StockHandlerDeps {
  readonly store: StockStore;
  readonly projector: InventoryProjector;
  readonly pubsub: ChannelPubSub;
  readonly logger: Logger;
}

/**
 * Inventory's decisions: OrderPlaced → reserve all lines (one Lua script) → StockReserved or
 * StockReservationRejected; OrderStatusChanged CONFIRMED → commit once (StockCommitted), CANCELLED →
 * release once (StockReleased). Every step is idempotent on the store and publishes with a
 * deterministic event id, so a redelivery after a crash re-publishes the same events and changes
 * nothing. Inventory's own events are handed to the projector. Stock pushes go out once Kafka has the events.
 */
/** What the stock group reads: orders to reserve and settle for. */
export const STOCK_HANDLER_TYPES = ['OrderPlaced', 'OrderStatusChanged'] as const;
/**
 * What the catalog group reads: the catalog and restocks to project. Inventory's own reservation events
 * (StockReserved, …) are read by neither: the handler wrote their state before publishing them, and after a
 * Redis loss the records that caused them are applied again, so projecting them live would only repeat its
 * own writes (`npm run rebuild-read-models` still projects them).
 */
export const CATALOG_HANDLER_TYPES = ['ProductRegistered', 'ProductRestocked'] as const;

/** Statuses inventory settles stock on; the others are skipped without a Redis command. */
const SETTLING_STATUSES: ReadonlySet<string> = new Set(['CONFIRMED', 'CANCELLED']);

/** Whether the handler does anything for `event`, known from the event alone. */
export function stockHandlerAccepts(event: AnyEvent): boolean {
  return event.type !== 'OrderStatusChanged' || SETTLING_STATUSES.has(event.payload.status);
}

export function createStockHandler(deps: StockHandlerDeps) {
  const { store } = deps;

  async function announce(productIds: Iterable<string>): Promise<void> {
    await Promise.all([...new Set(productIds)].map((productId) => deps.pubsub.publish(inventoryChannels.stock(productId), { productId })));
  }

  type Ctx = Pick<HandlerContext, 'emit' | 'afterEmit'>;

  async function settle(event: AnyEvent & { type: 'OrderStatusChanged' }, action: 'commit' | 'release', ctx: Ctx): Promise<HandleOutcome> {
    const { orderId } = event.payload;
    const { outcome, lines } = await store.settle(orderId, action);
    const done = action === 'commit' ? 'committed' : 'released';
    if (outcome !== 'applied' && outcome !== done) return 'ignored';
    const meta = { key: orderId, correlationId: event.correlationId, causationId: event.id, id: deterministicEventId(action === 'commit' ? 'StockCommitted' : 'StockReleased', orderId) };
    const stockLines: StockLine[] = lines.map((l) => ({ productId: l.productId, quantity: l.quantity }));
    ctx.emit(action === 'commit' ? createEvent('StockCommitted', { orderId, lines: stockLines }, meta) : createEvent('StockReleased', { orderId, lines: stockLines }, meta));
    if (outcome === 'applied') ctx.afterEmit(() => announce(lines.map((l) => l.productId)));
    return 'ok';
  }

  async function handle(event: AnyEvent, ctx: Ctx): Promise<HandleOutcome> {
    switch (event.type) {
      case 'OrderPlaced': {
        const { orderId, lines } = event.payload;
        const r = await store.reserve(orderId, lines);
        const meta = { key: orderId, correlationId: event.correlationId, causationId: event.id, id: deterministicEventId('StockReservation', orderId) };
        if (r.status === 'reserved') {
          ctx.emit(createEvent('StockReserved', { orderId, lines: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })) }, meta));
          ctx.afterEmit(() => announce(lines.map((l) => l.productId)));
          return 'ok';
        }
        if (r.status === 'rejected') {
          ctx.emit(createEvent('StockReservationRejected', { orderId, reason: r.reason ?? 'not enough stock', productId: r.productId }, meta));
          return 'ok';
        }
        // committed / released / void: the order moved on (or was cancelled first); nothing to do.
        return 'ignored';
      }
      case 'OrderStatusChanged':
        if (event.payload.status === 'CONFIRMED') return settle(event, 'commit', ctx);
        if (event.payload.status === 'CANCELLED') return settle(event, 'release', ctx);
        return 'ignored';
      case 'ProductRegistered':
      case 'ProductRestocked':
      case 'StockReserved':
      case 'StockReservationRejected':
      case 'StockReleased':
      case 'StockCommitted': {
        const changed = await deps.projector.project(event);
        if (changed?.length) ctx.afterEmit(() => announce(changed));
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
