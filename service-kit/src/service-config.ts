import { z } from 'zod';
import { DEFAULT_PORTS, DEV_SECRETS, MIN_SECRET_LENGTH } from './defaults.js';
import { envDurationMs, envHostPorts, envInt } from './env.js';
import { DEFAULT_PARTITIONS } from '@shop/events';

/**
 * The environment variables every subgraph service reads, with their defaults and messages.
 * A service spreads these into its own `z.object({...})` next to its own variables.
 */
export const serviceEnvFields = (defaultPort: number) => ({
  NODE_ENV: z.string().optional(),
  PORT: envInt(defaultPort, 0, 65_535),
  HOST: z.string().min(1).default('127.0.0.1'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'expected redis://host:port').default(`redis://127.0.0.1:${DEFAULT_PORTS.redis}`),
  REDIS_CLUSTER_NODES: envHostPorts(),
  KAFKA_BROKERS: z
    .string()
    .default(`127.0.0.1:${DEFAULT_PORTS.kafka}`)
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port')).min(1)),
  IDENTITY_SECRET: z.string().min(MIN_SECRET_LENGTH, `use at least ${MIN_SECRET_LENGTH} characters`).optional(),
  CONSUMER_CONCURRENCY: envInt(6, 1, 64),
  KAFKA_SESSION_TIMEOUT_MS: envDurationMs(30_000),
  KAFKA_TOPIC_PARTITIONS: envInt(DEFAULT_PARTITIONS, 1, 1_000),
});

/** The parsed common variables (what `serviceEnvFields` yields). */
export interface ServiceEnv {
  readonly NODE_ENV?: string | undefined;
  readonly PORT: number;
  readonly HOST: string;
  readonly REDIS_URL: string;
  readonly REDIS_CLUSTER_NODES: readonly string[];
  readonly KAFKA_BROKERS: readonly string[];
  readonly IDENTITY_SECRET?: string | undefined;
  readonly CONSUMER_CONCURRENCY: number;
  readonly KAFKA_SESSION_TIMEOUT_MS: number;
  readonly KAFKA_TOPIC_PARTITIONS: number;
}

/**
 * The schema of a subgraph service's environment: the common variables, then the service's own
 * (`extra`), and the production check (a real IDENTITY_SECRET is required in production).
 */
export function serviceEnvSchema<E extends z.ZodRawShape>(defaultPort: number, extra: E) {
  return z.object({ ...serviceEnvFields(defaultPort), ...extra }).superRefine((env, ctx) => requireProductionSecret(env as ServiceEnv, ctx));
}

function requireProductionSecret(env: ServiceEnv, ctx: z.RefinementCtx): void {
  if (env.NODE_ENV === 'production' && (!env.IDENTITY_SECRET || env.IDENTITY_SECRET === DEV_SECRETS.identity)) {
    ctx.addIssue({ code: 'custom', path: ['IDENTITY_SECRET'], message: 'required in production (and not the development default)' });
  }
}

/** The part of the configuration every subgraph service has. */
export interface ServiceConfig {
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  /** Seed nodes of a Redis Cluster (`host:port`); when set, the service runs on the cluster, not on `redisUrl`. */
  readonly redisClusterNodes: readonly string[];
  readonly kafkaBrokers: readonly string[];
  readonly identitySecret: string;
  /** Partitions each consumer handles at once (each partition still in order). */
  readonly consumerConcurrency: number;
  /**
   * Consumer group session timeout (default 30 s): how long a dead replica keeps its partitions, and
   * so how long a restarted replica's first join waits. Shorter means faster failover, more false alarms.
   */
  readonly consumerSessionTimeoutMs: number;
  /**
   * Partitions of each event topic the service creates when it is missing (existing topics keep theirs):
   * the most replicas of one consumer group that can share its work.
   */
  readonly topicPartitions: number;
}

/** Maps the parsed common variables to the common config (the dev secret when none is set). */
export function serviceConfigFrom(e: ServiceEnv): ServiceConfig {
  return {
    production: e.NODE_ENV === 'production',
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    kafkaBrokers: e.KAFKA_BROKERS,
    identitySecret: e.IDENTITY_SECRET ?? DEV_SECRETS.identity,
    consumerConcurrency: e.CONSUMER_CONCURRENCY,
    consumerSessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
    topicPartitions: e.KAFKA_TOPIC_PARTITIONS,
  };
}
