import DataLoader from 'dataloader';
import type { ProductRecord, StockStore } from './read-model.js';

/** Per-request loaders: N products in one Redis round trip. `cache: false` for subscriptions. */
export function createInventoryLoaders(store: StockStore, opts: { cache?: boolean } = {}) {
  return {
    product: new DataLoader<string, ProductRecord | null>((ids) => store.getMany(ids), { maxBatchSize: 500, cache: opts.cache ?? true }),
  };
}
export type InventoryLoaders = ReturnType<typeof createInventoryLoaders>;
