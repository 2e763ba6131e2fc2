export { EventError, EventContractError, isRetriable, type EventContractLocation } from './errors.js';
export * from './contracts/index.js';
export { redisScript, type RedisScript } from './redis-script.js';
export type { RedisClient } from './redis-client.js';
export { contextOf, failSpan, inSpan, inSyncSpan, startSpan, TRACE_FIELD, traceFields, withTrace, SpanKind, type Context, type Span } from './tracing.js';
