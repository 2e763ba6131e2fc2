export { EventError, EventContractError, isRetriable, type EventContractLocation } from './errors.js';
export * from './contracts/index.js';
export { redisScript, type RedisScript } from './redis-script.js';
