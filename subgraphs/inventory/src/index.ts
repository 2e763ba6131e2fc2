export { startInventoryService, INVENTORY_GROUP, INVENTORY_CATALOG_GROUP, type InventoryService, type StartInventoryOptions } from './server.js';
export { loadInventoryConfig, type InventoryConfig } from './config.js';
export { createInventoryProjector } from './projector.js';
export { createStockStore, type ProductRecord, type NewProduct } from './read-model.js';
export { SEED_CATALOG } from './seed.js';
export { KEY_PREFIX as INVENTORY_KEY_PREFIX } from './keys.js';
