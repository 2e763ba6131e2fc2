import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { pino, type Logger } from 'pino';
import { startBroker, type Broker } from '../../src/broker/index.js';
import { createKafka } from '../../src/kafka/client.js';
import { ensureTopics } from '../../src/kafka/topics-admin.js';
import { startRedisServer } from '../../../test/support/redis-server.js';

/** Silent unless EVENTS_TEST_LOG=debug|info|…: the suites assert on behaviour, not on log lines. */
export const testLogger: Logger = pino({ level: process.env.EVENTS_TEST_LOG ?? 'silent' });

export { freePort } from '../../../scripts/lib/processes.js';

export interface TestRedis {
  url: string;
  /** A connected client for assertions; closed by `stop()`. */
  client: Redis;
  stop(): Promise<void>;
}

/** A throwaway `redis-server` (no persistence) on a free port; `stop()` kills it by pid. */
export async function startRedis(): Promise<TestRedis> {
  const server = await startRedisServer();
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return {
    url: server.url,
    client,
    async stop() {
      client.disconnect();
      await server.stop();
    },
  };
}

export interface TestKafka {
  broker: Broker;
  kafka: Kafka;
  close(): Promise<void>;
}

/** An in-memory embedded broker on a free port with the event topics (and their DLQs) created. */
export async function startKafka(clientId = 'events-int-test'): Promise<TestKafka> {
  const broker = await startBroker({ host: '127.0.0.1', port: 0, logger: testLogger });
  const kafka = createKafka({ brokers: [broker.address], clientId, logger: testLogger, kafkaConfig: { retry: { retries: 8, initialRetryTime: 100 } } });
  await ensureTopics(kafka);
  return { broker, kafka, close: () => broker.close() };
}

/** Polls `fn` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 15_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
