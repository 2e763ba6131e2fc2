/**
 * Embedded Kafka-protocol broker: `const broker = await startBroker({ port: 0, dataDir })`, point
 * kafkajs (or any Kafka client) at `broker.address`, then `await broker.close()`.
 */
export { startBroker, type Broker, type BrokerOptions } from './server.js';
export type { FsyncPolicy } from './log/log-manager.js';
export { ErrorCode, KafkaBrokerError, type ErrorName } from './protocol/errors.js';
