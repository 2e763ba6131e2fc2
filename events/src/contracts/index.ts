export * from './topics.js';
export * from './fields.js';
export * from './envelope.js';
export * from './orders.js';
export * from './payments.js';
export * from './inventory.js';
export {
  EVENT_REGISTRY,
  EVENT_TYPES,
  type EventType,
  type OrderEventType,
  type PaymentEventType,
  type InventoryEventType,
  type PayloadOf,
  isEventType,
  topicOf,
  latestVersion,
  payloadSchema,
} from './registry.js';
export type { EventDefinition } from './event-definition.js';
export { parseEvent } from './parse.js';
export { createEvent, deterministicEventId, assertValidEvent, type EventMeta } from './create.js';
