import { Kafka, logLevel, type Admin } from 'kafkajs';
import { Redis } from 'ioredis';

/** Calls per Redis command (`INFO commandstats`), and records per Kafka topic (sum of its high-water marks). */
export interface WorkSnapshot {
  readonly redisCalls: ReadonlyMap<string, number>;
  readonly kafkaRecords: ReadonlyMap<string, number>;
}

export interface WorkCounters {
  readonly redisUrl: string;
  snapshot(): Promise<WorkSnapshot>;
  close(): Promise<void>;
}

/** What happened between two snapshots, per order: Redis calls by command and Kafka records by topic. */
export interface WorkPerOrder {
  readonly redisCallsPerOrder: Record<string, number>;
  readonly redisCallsPerOrderTotal: number;
  readonly kafkaRecordsPerOrder: Record<string, number>;
  readonly kafkaRecordsPerOrderTotal: number;
}

/**
 * Counts the work the system did in Redis and Kafka, from the servers' own counters, so a benchmark can say
 * how many Redis commands and Kafka records one order costs. Redis counts every command it ran, those a
 * script ran with `redis.call` included (under their own names, besides the `evalsha` itself), and the
 * probes' own `INFO` calls.
 */
export async function createWorkCounters(redisUrl: string, kafkaBrokers: string): Promise<WorkCounters> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  const kafka = new Kafka({ clientId: 'bench-work-counters', brokers: kafkaBrokers.split(','), logLevel: logLevel.NOTHING, connectionTimeout: 3_000, retry: { retries: 3 } });
  const admin: Admin = kafka.admin();
  await admin.connect();
  return {
    redisUrl,
    async snapshot() {
      const [info, topics] = await Promise.all([redis.info('commandstats'), admin.listTopics()]);
      const redisCalls = new Map<string, number>();
      for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) redisCalls.set(m[1]!, Number(m[2]));
      const kafkaRecords = new Map<string, number>();
      for (const topic of topics.filter((t) => !t.startsWith('__'))) {
        const offsets = await admin.fetchTopicOffsets(topic);
        kafkaRecords.set(topic, offsets.reduce((sum, p) => sum + Number(p.high), 0));
      }
      return { redisCalls, kafkaRecords };
    },
    async close() {
      redis.disconnect();
      await admin.disconnect();
    },
  };
}

export function workPerOrder(before: WorkSnapshot, after: WorkSnapshot, orders: number): WorkPerOrder {
  const per = (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>) => {
    const out: Record<string, number> = {};
    for (const [name, n] of b) {
      const d = n - (a.get(name) ?? 0);
      if (d > 0) out[name] = orders > 0 ? d / orders : NaN;
    }
    return out;
  };
  const sum = (r: Record<string, number>) => Object.values(r).reduce((s, v) => s + v, 0);
  const redisCallsPerOrder = per(before.redisCalls, after.redisCalls);
  const kafkaRecordsPerOrder = per(before.kafkaRecords, after.kafkaRecords);
  return { redisCallsPerOrder, redisCallsPerOrderTotal: sum(redisCallsPerOrder), kafkaRecordsPerOrder, kafkaRecordsPerOrderTotal: sum(kafkaRecordsPerOrder) };
}
