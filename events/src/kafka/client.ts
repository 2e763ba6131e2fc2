import { Kafka, type KafkaConfig, type LogEntry, logLevel } from 'kafkajs';
import type { Logger } from 'pino';
import { fixKafkajsIdleTimer } from './request-queue-fix.js';

export interface CreateKafkaOptions {
  /** `host:port` of one or more bootstrap brokers. */
  brokers: string[];
  /** Shown in broker logs and kafkajs' own log lines; use the service name. */
  clientId: string;
  /** kafkajs' log lines are bridged to a child of this logger (`{ component: 'kafkajs' }`). */
  logger: Logger;
  /** Time to open a connection; default 3_000 ms (kafkajs' 1 s is tight on a busy CI box). */
  connectionTimeoutMs?: number;
  /** Time for one request; default 30_000 ms. */
  requestTimeoutMs?: number;
  /** Extra kafkajs settings (retry, ssl, sasl), merged last. */
  kafkaConfig?: Partial<KafkaConfig>;
}

/** A kafkajs client whose log lines go to pino, at the pino logger's level. */
export function createKafka(opts: CreateKafkaOptions): Kafka {
  if (opts.brokers.length === 0) throw new TypeError('createKafka: brokers must not be empty');
  fixKafkajsIdleTimer();
  const log = opts.logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: opts.connectionTimeoutMs ?? 3_000,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    logLevel: kafkaLogLevelFor(log.level),
    logCreator: () => (entry) => writeKafkaLog(log, entry),
    ...opts.kafkaConfig,
  });
}

/** Filter in kafkajs too, so debug entries are not even built when pino would drop them. */
function kafkaLogLevelFor(pinoLevel: string): logLevel {
  switch (pinoLevel) {
    case 'trace':
    case 'debug':
      return logLevel.DEBUG;
    case 'info':
      return logLevel.INFO;
    case 'warn':
      return logLevel.WARN;
    case 'error':
    case 'fatal':
      return logLevel.ERROR;
    default:
      return logLevel.NOTHING; // 'silent' or a custom level
  }
}

function writeKafkaLog(log: Logger, { namespace, level, log: entry }: LogEntry): void {
  const { message, timestamp: _timestamp, logger: _logger, ...fields } = entry as { message: string; [k: string]: unknown };
  const obj = { namespace, ...fields };
  switch (level) {
    case logLevel.ERROR:
      log.error(obj, message);
      return;
    case logLevel.WARN:
      log.warn(obj, message);
      return;
    case logLevel.INFO:
      log.info(obj, message);
      return;
    case logLevel.DEBUG:
      log.debug(obj, message);
      return;
    case logLevel.NOTHING:
      return;
    default: {
      const _: never = level;
      return;
    }
  }
}
