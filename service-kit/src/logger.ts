import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs to stdout; `LOG_LEVEL` picks the level (default `info`, `silent` in tests when set so). */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: service, level, base: { service } });
}
