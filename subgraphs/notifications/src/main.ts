import { runService } from '@shop/service-kit';
import { loadNotificationsConfig } from './config.js';
import { startNotificationsService } from './server.js';

await runService('notifications', (logger) => startNotificationsService(loadNotificationsConfig(), { logger }));
