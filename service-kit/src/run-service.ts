import { createLogger, type Logger } from './logger.js';
import { startTracing } from './tracing.js';

/** What a started service must offer `runService`. */
export interface StoppableService {
  close(): Promise<void>;
}

/**
 * The entry point of a service process: creates its logger, starts it, and on SIGTERM/SIGINT
 * closes it and exits 0 (1 when closing fails). A failing start logs `<name> failed to start`
 * with the reason and exits 1. The service logs its own URL once it listens.
 */
export async function runService(name: string, start: (logger: Logger) => Promise<StoppableService>): Promise<void> {
  const logger = createLogger(name);
  try {
    const tracing = startTracing(name, logger);
    const service = await start(logger);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      service
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
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, `${name} failed to start`);
    process.exit(1);
  }
}
