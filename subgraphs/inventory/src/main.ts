import { runService } from '@shop/service-kit';
import { loadInventoryConfig } from './config.js';
import { startInventoryService } from './server.js';

await runService('inventory', (logger) => startInventoryService(loadInventoryConfig(), { logger }));
