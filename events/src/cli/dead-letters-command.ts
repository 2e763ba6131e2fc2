/** The `dead-letters` command (see `dead-letters.ts` for usage); split from the entry so tests run it in-process. */
import { parseArgs } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../redis-client.js';
import { type Logger, pino } from 'pino';
import { ALL_TOPICS, deadLetterTopic, sourceTopicOf } from '../contracts/topics.js';
import { createKafka } from '../kafka/client.js';
import { type DeadLetter, readDeadLetters, redriveDeadLetters, redrivenAt } from '../kafka/dead-letters.js';

const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const USAGE = `usage:
  dead-letters list [--topic shop.orders] [--limit 50] [--json]
  dead-letters redrive --topic shop.orders (--offset N [--partition P] | --all)`;

class UsageError extends Error {}

interface Env {
  brokers: string[];
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: a Redis Cluster's seed nodes, used instead of `redisUrl` when set. */
  redisClusterNodes: string[];
}

/** Where a run writes: the entry script passes the process' streams, tests collect the text. */
export interface CliIo {
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
}

interface Run {
  env: Env;
  io: CliIo;
  logger: Logger;
}

function readEnv(env: NodeJS.ProcessEnv): Env {
  const brokers = (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) throw new UsageError('KAFKA_BROKERS is empty');
  const redisClusterNodes = (env.REDIS_CLUSTER_NODES ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  return { brokers, redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6390', redisClusterNodes };
}

async function connectRedis(env: Env, required: boolean, logger: Logger): Promise<RedisClient | undefined> {
  const options = { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 1 };
  const url = env.redisClusterNodes.length ? env.redisClusterNodes.join(',') : env.redisUrl;
  const redis: RedisClient = env.redisClusterNodes.length
    ? new Cluster(
        env.redisClusterNodes.map((n) => ({ host: n.slice(0, n.lastIndexOf(':')), port: Number(n.slice(n.lastIndexOf(':') + 1)) })),
        { lazyConnect: true, clusterRetryStrategy: () => null, redisOptions: options },
      )
    : new Redis(env.redisUrl, { ...options, retryStrategy: () => null });
  redis.on('error', () => undefined); // reported by connect() below
  try {
    await redis.connect();
    return redis;
  } catch (err) {
    redis.disconnect();
    if (required) throw new Error(`redis at ${url.replace(/\/\/[^@/]*@/, '//***@')} is not reachable: ${(err as Error).message}`, { cause: err });
    logger.warn({ err: (err as Error).message }, 'redis not reachable: listing without re-drive status');
    return undefined;
  }
}

function topicsArg(topic: string | undefined): string[] {
  return topic === undefined ? [...ALL_TOPICS] : [sourceTopicOf(topic)];
}

function format(dl: DeadLetter, redrivenAtIso: string | undefined): string {
  const source = `${dl.sourceTopic} ${dl.sourcePartition ?? '?'}:${dl.sourceOffset ?? '?'}`;
  const event = dl.eventType ? `${dl.eventType}${dl.eventId ? ` ${dl.eventId}` : ''}` : '(unparseable)';
  const status = redrivenAtIso ? `  [re-driven ${redrivenAtIso}]` : '';
  return [
    `${dl.dlqTopic} partition ${dl.partition} offset ${dl.offset}  ←  ${source}  group ${dl.consumerGroup ?? '?'}${status}`,
    `  failed-at ${dl.failedAt ?? '?'}  attempts ${dl.attempts ?? '?'}  key ${dl.key ?? '(none)'}  event ${event}`,
    `  error ${dl.error}`,
  ].join('\n');
}

async function list({ env, io, logger }: Run, values: { topic?: string; limit?: string; json?: boolean }): Promise<number> {
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, got ${values.limit}`);
  const kafka = createKafka({ brokers: env.brokers, clientId: 'dead-letters-cli', logger });
  const redis = await connectRedis(env, false, logger);
  try {
    let shown = 0;
    for (const topic of topicsArg(values.topic)) {
      const dlq = deadLetterTopic(topic);
      const letters = await readDeadLetters(kafka, { topic });
      const redriven = redis ? await redrivenAt(redis, dlq) : new Map<string, string>();
      // The most recent ones: the oldest are most likely handled already.
      const recent = letters.sort((a, b) => (a.failedAt ?? '').localeCompare(b.failedAt ?? '')).slice(-limit);
      if (values.json) {
        for (const dl of recent) {
          const { record: _record, ...rest } = dl;
          io.out(JSON.stringify({ ...rest, redrivenAt: redriven.get(`${dl.partition}:${dl.offset}`) ?? null }));
        }
      } else {
        io.out(`# ${dlq}: ${letters.length} dead letter(s)${letters.length > recent.length ? `, showing the last ${recent.length}` : ''}`);
        for (const dl of recent) io.out(format(dl, redriven.get(`${dl.partition}:${dl.offset}`)));
      }
      shown += recent.length;
    }
    if (!values.json && shown === 0) io.out('no dead letters');
    return EXIT.ok;
  } finally {
    redis?.disconnect();
  }
}

async function redrive({ env, io, logger }: Run, values: { topic?: string; offset?: string; partition?: string; all?: boolean }): Promise<number> {
  if (values.topic === undefined) throw new UsageError('redrive needs --topic');
  if ((values.offset === undefined) === !values.all) throw new UsageError('redrive needs exactly one of --offset N or --all');
  if (values.offset !== undefined && !/^\d+$/.test(values.offset)) throw new UsageError(`--offset must be a number, got ${values.offset}`);
  if (values.partition !== undefined && !/^\d+$/.test(values.partition)) throw new UsageError(`--partition must be a number, got ${values.partition}`);
  const kafka = createKafka({ brokers: env.brokers, clientId: 'dead-letters-cli', logger });
  const redis = (await connectRedis(env, true, logger))!;
  try {
    const select = values.all
      ? ({ all: true } as const)
      : { offset: values.offset!, ...(values.partition === undefined ? {} : { partition: Number(values.partition) }) };
    const result = await redriveDeadLetters({ kafka, redis, topic: values.topic, select });
    for (const dl of result.redriven) {
      io.out(`re-drove ${dl.dlqTopic} ${dl.partition}:${dl.offset} → ${dl.sourceTopic} (${dl.eventType ?? 'unparseable'})`);
    }
    for (const dl of result.alreadyRedriven) io.out(`skipped ${dl.dlqTopic} ${dl.partition}:${dl.offset}: re-driven before`);
    io.out(`${result.redriven.length} re-driven, ${result.alreadyRedriven.length} already re-driven`);
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
}

/** Runs one command; resolves to the exit code (0 done, 1 failed, 2 bad usage) and never throws. */
export async function runDeadLettersCli(argv: string[], io: CliIo): Promise<number> {
  try {
    return await main(argv, io);
  } catch (err) {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    io.err(`dead-letters: ${(err as Error).message}`);
    if (usage) io.err(USAGE);
    return usage ? EXIT.usage : EXIT.failed;
  }
}

async function main(argv: string[], io: CliIo): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      topic: { type: 'string' },
      limit: { type: 'string' },
      offset: { type: 'string' },
      partition: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(USAGE);
    return EXIT.ok;
  }
  const env = readEnv(io.env);
  // Logs (kafkajs included) go to stderr at warn, so stdout holds only the listing.
  const logger = pino({ name: 'dead-letters', level: io.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));
  const run: Run = { env, io, logger };
  const [command, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  switch (command) {
    case 'list':
      return list(run, values);
    case 'redrive':
      return redrive(run, values);
    default:
      throw new UsageError(command === undefined ? 'missing command' : `unknown command "${command}"`);
  }
}
