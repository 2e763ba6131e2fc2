import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { pino, type Logger } from 'pino';
import { startBroker, type Broker } from '../../src/broker/index.js';
import { createKafka } from '../../src/kafka/client.js';
import { ensureTopics } from '../../src/kafka/topics-admin.js';

/** Silent unless EVENTS_TEST_LOG=debug|info|…: the suites assert on behaviour, not on log lines. */
export const testLogger: Logger = pino({ level: process.env.EVENTS_TEST_LOG ?? 'silent' });

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      server.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface TestRedis {
  url: string;
  /** A connected client for assertions; closed by `stop()`. */
  client: Redis;
  stop(): Promise<void>;
}

/** A throwaway `redis-server` (no persistence) on a free port; `stop()` kills it by pid. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const child = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: (n) => (n > 50 ? null : 100) });
  client.on('error', () => undefined);
  await waitFor('redis-server to answer', async () => {
    if (client.status === 'wait' || client.status === 'end') await client.connect().catch(() => undefined);
    return (await client.ping().catch(() => null)) === 'PONG';
  });
  return {
    url,
    client,
    async stop() {
      client.disconnect();
      if (child.exitCode === null && child.pid !== undefined) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(child.pid, 'SIGKILL');
        await exited;
      }
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
