import DataLoader from 'dataloader';
import type { OrderRecord, OrderStore, StatusChange } from './read-model.js';

/** Per-request loaders: N orders (or histories) in one Redis round trip (one pipeline). */
/** `cache: false` for subscriptions, whose context lives as long as the subscription. */
export function createOrderLoaders(store: OrderStore, opts: { cache?: boolean } = {}) {
  const cache = opts.cache ?? true;
  return {
    order: new DataLoader<string, OrderRecord | null>((ids) => store.getMany(ids), { maxBatchSize: 500, cache }),
    history: new DataLoader<string, StatusChange[]>((ids) => store.historyMany(ids), { maxBatchSize: 500, cache }),
  };
}
export type OrderLoaders = ReturnType<typeof createOrderLoaders>;
