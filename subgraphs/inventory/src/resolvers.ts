import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { createEvent } from '@shop/events';
import type { EventProducer } from '@shop/events/kafka';
import { badUserInput, decodeCursor, encodeCursor, notFound, pageSize, requireAdmin, type ChannelPubSub, type PubSubReconnects, type RequestIdentity } from '@shop/service-kit';
import { inventoryChannels, PRODUCT_ID } from './keys.js';
import type { InventoryLoaders } from './loaders.js';
import type { InventoryProjector } from './projector.js';
import type { ProductRecord, StockStore } from './read-model.js';
import { liveWithRefresh } from './stock-stream.js';

export interface InventoryContext extends RequestIdentity {
  readonly loaders: InventoryLoaders;
}

export interface InventoryResolverDeps {
  readonly store: StockStore;
  readonly projector: InventoryProjector;
  readonly producer: EventProducer;
  readonly pubsub: ChannelPubSub;
  /** When pub/sub is back after a drop, each stock stream pushes the stock as it is then. */
  readonly pubsubReconnects: PubSubReconnects;
  readonly announce: (productIds: Iterable<string>) => Promise<void>;
  readonly logger: Logger;
}

const PRODUCT_CURSOR = 'product';
export const MAX_RESTOCK = 100_000;

function assertProductId(id: string, field: string): void {
  if (!PRODUCT_ID.test(id)) throw badUserInput(`${field}: malformed product id ${JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id)} (expected prd_…).`, { field });
}

export function createInventoryResolvers(deps: InventoryResolverDeps) {
  const { store } = deps;
  return {
    Query: {
      product: (_: unknown, args: { id: string }, ctx: InventoryContext) => {
        assertProductId(args.id, 'id');
        return ctx.loaders.product.load(args.id);
      },
      products: async (_: unknown, args: { first?: number | null; after?: string | null }, ctx: InventoryContext) => {
        const n = pageSize(args.first, 50);
        const ids = await store.page(decodeCursor(PRODUCT_CURSOR, args.after), n + 1);
        const page = ids.slice(0, n);
        const products = await ctx.loaders.product.loadMany(page);
        const edges = page.flatMap((id, i) => {
          const node = products[i];
          return node && !(node instanceof Error) ? [{ cursor: encodeCursor(PRODUCT_CURSOR, id), node }] : [];
        });
        return { edges, pageInfo: { hasNextPage: ids.length > n, endCursor: page.length ? encodeCursor(PRODUCT_CURSOR, page[page.length - 1]!) : null } };
      },
    },
    Mutation: {
      restock: async (_: unknown, args: { productId: string; quantity: number }, ctx: InventoryContext) => {
        requireAdmin(ctx);
        assertProductId(args.productId, 'productId');
        if (!Number.isInteger(args.quantity) || args.quantity < 1 || args.quantity > MAX_RESTOCK) {
          throw badUserInput(`quantity must be between 1 and ${MAX_RESTOCK}, got ${args.quantity}.`, { field: 'quantity' });
        }
        if (!(await store.get(args.productId))) throw notFound(`Product ${args.productId} does not exist.`);
        // The event first (the log is the source of truth), then apply it through the projector,
        // which the consumer's echo of the same event finds already applied (by event id).
        const event = createEvent(
          'ProductRestocked',
          { productId: args.productId, quantity: args.quantity },
          { key: args.productId, correlationId: ctx.correlationId, causationId: null, id: randomUUID() },
        );
        await deps.producer.publish(event);
        const changed = await deps.projector.project(event);
        if (changed?.length) await deps.announce(changed);
        const product = await store.get(args.productId);
        if (!product) throw notFound(`Product ${args.productId} does not exist.`);
        return product;
      },
    },
    Subscription: {
      stockChanged: {
        subscribe: async (_: unknown, args: { productId: string }) => {
          assertProductId(args.productId, 'productId');
          if (!(await store.get(args.productId))) throw notFound(`Product ${args.productId} does not exist.`);
          return liveWithRefresh<{ productId: string }>({
            subscribe: async (push) => {
              const subId = await deps.pubsub.subscribe<{ productId: string }>(inventoryChannels.stock(args.productId), push);
              return () => deps.pubsub.unsubscribe(subId);
            },
            refresh: { productId: args.productId },
            onLiveResumed: (listener) => deps.pubsubReconnects.onResubscribed(listener),
          });
        },
        resolve: async (msg: { productId: string }) => {
          const product = await store.get(msg.productId);
          if (!product) throw notFound(`Product ${msg.productId} does not exist.`);
          return product;
        },
      },
    },
    Product: {
      __resolveReference: (ref: { id: string }, ctx: InventoryContext) => ctx.loaders.product.load(ref.id),
      stock: (p: ProductRecord) => p.stock,
    },
  };
}
