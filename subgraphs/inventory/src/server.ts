import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { gql } from 'graphql-tag';
import type { Logger } from 'pino';
import { createEvent, deterministicEventId, TOPICS } from '@shop/events';
import { PROJECTION_FETCH, startConsumer } from '@shop/events/kafka';
import { instrumentHandler } from '@shop/service-kit';
import { startSubgraphService, type SubgraphService } from '@shop/service-kit/subgraph';
import type { InventoryConfig } from './config.js';
import { createInventoryLoaders } from './loaders.js';
import { createInventoryProjector } from './projector.js';
import { createStockStore, type NewProduct } from './read-model.js';
import { createInventoryResolvers, type InventoryContext } from './resolvers.js';
import { SEED_CATALOG } from './seed.js';
import { CATALOG_HANDLER_TYPES, createStockHandler, STOCK_HANDLER_TYPES, stockHandlerAccepts } from './stock-handler.js';

/** The group that reserves and settles stock for orders (shop.orders, fetched at once: an order waits on it). */
export const INVENTORY_GROUP = 'inventory';
/**
 * The group that applies catalog changes and restocks from shop.inventory, fetched every 100 ms: the resolvers
 * and the seed apply their own at once, so it only catches up after a crash between publishing and applying,
 * and it spares the stock group a wake-up per reservation event.
 */
export const INVENTORY_CATALOG_GROUP = 'inventory-catalog';

export const inventoryTypeDefs = gql(readFileSync(new URL('./schema.graphql', import.meta.url), 'utf8'));

export interface StartInventoryOptions {
  readonly logger?: Logger;
  /** Replaces the seed catalog (tests); default SEED_CATALOG when config.seedCatalog. */
  readonly catalog?: readonly NewProduct[];
  readonly sessionTimeoutMs?: number;
}

export type InventoryService = SubgraphService;

export function startInventoryService(config: InventoryConfig, opts: StartInventoryOptions = {}): Promise<InventoryService> {
  const { catalog: catalogOverride, ...runtimeOpts } = opts;
  return startSubgraphService<InventoryContext>({
    name: 'inventory',
    config,
    ...runtimeOpts,
    async setup({ logger, redis, pubsub, pubsubReconnects, producer, metrics, consumerOptions, onClose }) {
      const store = createStockStore(redis);
      const projector = createInventoryProjector({ store });
      const handler = createStockHandler({ store, projector, pubsub, logger });

      const consumers = await Promise.all([
        startConsumer({
          ...consumerOptions,
          groupId: INVENTORY_GROUP,
          topics: [TOPICS.orders],
          eventTypes: STOCK_HANDLER_TYPES,
          accepts: stockHandlerAccepts,
          handle: instrumentHandler(metrics, INVENTORY_GROUP, (e, ctx) => handler.handle(e, ctx)),
        }),
        startConsumer({
          ...consumerOptions,
          groupId: INVENTORY_CATALOG_GROUP,
          topics: [TOPICS.inventory],
          eventTypes: CATALOG_HANDLER_TYPES,
          ...PROJECTION_FETCH,
          handle: instrumentHandler(metrics, INVENTORY_CATALOG_GROUP, (e, ctx) => handler.handle(e, ctx)),
        }),
      ]);
      onClose(() => Promise.all(consumers.map((c) => c.close())));

      // Seed: ProductRegistered for every catalog product not registered yet, applied here too so the
      // catalog is readable at once. Deterministic ids: replicas and restarts publish duplicates at most.
      const catalog = catalogOverride ?? (config.seedCatalog ? SEED_CATALOG : []);
      const missing = (await store.getMany(catalog.map((p) => p.productId))).flatMap((p, i) => (p ? [] : [catalog[i]!]));
      if (missing.length) {
        const events = missing.map((p) =>
          createEvent(
            'ProductRegistered',
            { productId: p.productId, name: p.name, description: p.description, price: { amount: p.price.amount, currency: 'USD' }, initialStock: p.initialStock },
            { key: p.productId, correlationId: 'seed-catalog', causationId: null, id: deterministicEventId('seed', 'ProductRegistered', p.productId) },
          ),
        );
        await producer.publish(events);
        for (const e of events) await projector.project(e);
        logger.info({ products: missing.length }, 'seed catalog published');
      }

      return {
        schema: buildSubgraphSchema({
          typeDefs: inventoryTypeDefs,
          resolvers: createInventoryResolvers({ store, projector, producer, pubsub, pubsubReconnects, announce: handler.announce, logger }) as never,
        }),
        context: (base, transport) => ({ ...base, loaders: createInventoryLoaders(store, { cache: transport.kind === 'http' }) }),
      };
    },
  });
}
