export { startOrdersService, ORDERS_GROUPS, type OrdersService, type StartOrdersOptions } from './server.js';
export { loadOrdersConfig, type OrdersConfig } from './config.js';
export { createOrdersProjector } from './projector.js';
export { createOrderStore, type OrderRecord, type StatusChange } from './read-model.js';
export { KEY_PREFIX as ORDERS_KEY_PREFIX, orderChannels } from './keys.js';
export type { PaymentProvider, PaymentRequest, PaymentResult } from './payment-provider.js';
