import { z } from 'zod';
import { DEFAULT_PORTS, DEV_SECRETS, envInt, parseEnv, type EnvSource } from '@shop/service-kit';

const schema = z
  .object({
    NODE_ENV: z.string().optional(),
    PORT: envInt(DEFAULT_PORTS.notifications, 0, 65_535),
    HOST: z.string().min(1).default('127.0.0.1'),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'expected redis://host:port').default(`redis://127.0.0.1:${DEFAULT_PORTS.redis}`),
    KAFKA_BROKERS: z
      .string()
      .default(`127.0.0.1:${DEFAULT_PORTS.kafka}`)
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port')).min(1)),
    IDENTITY_SECRET: z.string().min(16, 'at least 16 characters').optional(),
    CONSUMER_CONCURRENCY: envInt(6, 1, 64),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && (!env.IDENTITY_SECRET || env.IDENTITY_SECRET === DEV_SECRETS.identity)) {
      ctx.addIssue({ code: 'custom', path: ['IDENTITY_SECRET'], message: 'required in production (and not the development default)' });
    }
  });

export interface NotificationsConfig {
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  readonly kafkaBrokers: readonly string[];
  readonly identitySecret: string;
  /** Partitions each consumer handles at once (each partition still in order). */
  readonly consumerConcurrency: number;
}

export function loadNotificationsConfig(env: EnvSource = process.env): NotificationsConfig {
  const e = parseEnv('notifications', schema, env);
  return {
    production: e.NODE_ENV === 'production',
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    kafkaBrokers: e.KAFKA_BROKERS,
    identitySecret: e.IDENTITY_SECRET ?? DEV_SECRETS.identity,
    consumerConcurrency: e.CONSUMER_CONCURRENCY,
  };
}
