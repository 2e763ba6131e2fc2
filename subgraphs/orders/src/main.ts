import { runService } from '@shop/service-kit';
import { loadOrdersConfig } from './config.js';
import { startOrdersService } from './server.js';

await runService('orders', (logger) => startOrdersService(loadOrdersConfig(), { logger }));
