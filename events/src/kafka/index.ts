export { createKafka, type CreateKafkaOptions } from './client.js';
export { ensureTopics, allTopicsWithDeadLetters, type EnsureTopicsOptions } from './topics-admin.js';
export { createEventProducer, toRecord, type EventProducer, type CreateEventProducerOptions } from './producer.js';
export {
  startConsumer,
  processedKey,
  offsetKey,
  PROJECTION_FETCH,
  type ConsumerRunner,
  type EventHandler,
  type HandleOutcome,
  type HandlerContext,
  type StartConsumerOptions,
} from './consumer.js';
export {
  readDeadLetters,
  redriveDeadLetters,
  selectDeadLetters,
  redrivenKey,
  redrivenAt,
  type DeadLetter,
  type ReadDeadLettersOptions,
  type RedriveOptions,
  type RedriveResult,
  type RedriveSelection,
} from './dead-letters.js';
export { buildDeadLetter, buildRedrive, decodeDeadLetter, errorText } from './dead-letter-record.js';
export { headersToStrings } from './headers.js';
