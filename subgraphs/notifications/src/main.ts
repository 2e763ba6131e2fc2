import { createLogger } from '@shop/service-kit';
import { loadNotificationsConfig } from './config.js';
import { startNotificationsService } from './server.js';

const logger = createLogger('notifications');
try {
  const service = await startNotificationsService(loadNotificationsConfig(), { logger });
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
  logger.fatal({ err: (err as Error).message }, 'notifications failed to start');
  process.exit(1);
}
