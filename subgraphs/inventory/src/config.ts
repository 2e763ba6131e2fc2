import { z } from 'zod';
import { DEFAULT_PORTS, DEV_SECRETS, envBoolean, envInt, parseEnv, type EnvSource } from '@shop/service-kit';

const schema = z
  .object({
    NODE_ENV: z.string().optional(),
    PORT: envInt(DEFAULT_PORTS.inventory, 0, 65_535),
    HOST: z.string().min(1).default('127.0.0.1'),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'expected redis://host:port').default(`redis://127.0.0.1:${DEFAULT_PORTS.redis}`),
    KAFKA_BROKERS: z
      .string()
      .default(`127.0.0.1:${DEFAULT_PORTS.kafka}`)
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port')).min(1)),
    IDENTITY_SECRET: z.string().min(16, 'at least 16 characters').optional(),
    CONSUMER_CONCURRENCY: envInt(6, 1, 64),
    SEED_CATALOG: envBoolean(true),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && (!env.IDENTITY_SECRET || env.IDENTITY_SECRET === DEV_SECRETS.identity)) {
      ctx.addIssue({ code: 'custom', path: ['IDENTITY_SECRET'], message: 'required in production (and not the development default)' });
    }
  });

export interface InventoryConfig {
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  readonly kafkaBrokers: readonly string[];
  readonly identitySecret: string;
  /** Partitions each consumer handles at once (each partition still in order). */
  readonly consumerConcurrency: number;
  /** Publish the seed catalog (ProductRegistered, idempotent) at start. */
  readonly seedCatalog: boolean;
}

export function loadInventoryConfig(env: EnvSource = process.env): InventoryConfig {
  const e = parseEnv('inventory', schema, env);
  return {
    production: e.NODE_ENV === 'production',
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    kafkaBrokers: e.KAFKA_BROKERS,
    identitySecret: e.IDENTITY_SECRET ?? DEV_SECRETS.identity,
    consumerConcurrency: e.CONSUMER_CONCURRENCY,
    seedCatalog: e.SEED_CATALOG,
  };
}
