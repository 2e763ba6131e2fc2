import { createLogger } from '@shop/service-kit';
import { loadInventoryConfig } from './config.js';
import { startInventoryService } from './server.js';

const logger = createLogger('inventory');
try {
  const service = await startInventoryService(loadInventoryConfig(), { logger });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'inventory failed to start');
  process.exit(1);
}
