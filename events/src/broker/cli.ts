/**
 * `npm run broker -- --port 9092 --data-dir .data/broker [--host 127.0.0.1] [--partitions 1]
 *  [--fsync interval|always|never]`
 *
 * Runs in the foreground and prints exactly one line `broker listening on <host>:<port>` on stdout
 * (other processes parse `listening on (\S+)`); logs go to stderr. SIGINT/SIGTERM close it cleanly.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { FsyncPolicy } from './log/log-manager.js';
import { startBroker } from './server.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    partitions: { type: 'string' },
    fsync: { type: 'string' },
    'advertised-host': { type: 'string' },
  },
  strict: true,
});

const fsync = values.fsync as FsyncPolicy | undefined;
if (fsync && !['always', 'interval', 'never'].includes(fsync)) {
  process.stderr.write(`--fsync must be always, interval or never\n`);
  process.exit(2);
}

const logger = pino({ name: 'broker', level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));
// Request handling already contains its failures per connection; these are the last line of defence
// so one unforeseen bug is logged instead of taking every client's broker down.
process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception'));
process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
const broker = await startBroker({
  host: values.host,
  port: values.port !== undefined ? Number(values.port) : undefined,
  dataDir: values['data-dir'],
  defaultPartitions: values.partitions !== undefined ? Number(values.partitions) : undefined,
  advertisedHost: values['advertised-host'],
  fsync,
  logger,
});
process.stdout.write(`broker listening on ${broker.address}\n`);

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  broker.close().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'close failed');
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
