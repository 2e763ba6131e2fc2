/** The gateway process: `npm start -w gateway` (or via the root launcher). Exits cleanly on SIGTERM/SIGINT. */
import { createLogger, startTracing } from '@shop/service-kit';
import { loadConfig } from './config.js';
import { startGateway } from './server.js';

const config = loadConfig();
const logger = createLogger('gateway', config.logLevel);
const tracing = startTracing('gateway', logger);
const gateway = await startGateway(config, { logger });

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    logger.error('shutdown took too long; exiting');
    process.exit(1);
  }, config.shutdownGraceMs + 5_000);
  force.unref();
  gateway
    .close()
    .then(() => tracing?.shutdown())
    .then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
