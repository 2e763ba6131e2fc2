import DataLoader from 'dataloader';
import type { NotificationRecord, NotificationStore } from './read-model.js';

/** Per-request loaders: the notifications of N orders in one Redis round trip. */
export function createNotificationLoaders(store: NotificationStore, opts: { cache?: boolean } = {}) {
  return {
    byOrder: new DataLoader<string, NotificationRecord[]>((ids) => store.byOrders(ids), { maxBatchSize: 200, cache: opts.cache ?? true }),
  };
}
export type NotificationLoaders = ReturnType<typeof createNotificationLoaders>;
