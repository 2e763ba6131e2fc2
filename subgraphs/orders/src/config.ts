import { z } from 'zod';
import { DEFAULT_PORTS, DEV_SECRETS, envDurationMs, envInt, parseEnv, type EnvSource } from '@shop/service-kit';

const schema = z
  .object({
    NODE_ENV: z.string().optional(),
    PORT: envInt(DEFAULT_PORTS.orders, 0, 65_535),
    HOST: z.string().min(1).default('127.0.0.1'),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'expected redis://host:port').default(`redis://127.0.0.1:${DEFAULT_PORTS.redis}`),
    KAFKA_BROKERS: z
      .string()
      .default(`127.0.0.1:${DEFAULT_PORTS.kafka}`)
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port')).min(1)),
    IDENTITY_SECRET: z.string().min(16, 'at least 16 characters').optional(),
    CONSUMER_CONCURRENCY: envInt(6, 1, 64),
    SAGA_DEADLINE_MS: envDurationMs(30_000),
    SAGA_DEADLINE_POLL_MS: envDurationMs(250),
    PAYMENT_TIMEOUT_MS: envDurationMs(5_000),
    CANCEL_WAIT_MS: envDurationMs(5_000),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && (!env.IDENTITY_SECRET || env.IDENTITY_SECRET === DEV_SECRETS.identity)) {
      ctx.addIssue({ code: 'custom', path: ['IDENTITY_SECRET'], message: 'required in production (and not the development default)' });
    }
  });

export interface OrdersConfig {
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly redisUrl: string;
  readonly kafkaBrokers: readonly string[];
  readonly identitySecret: string;
  /** Partitions each consumer handles at once (each partition still in order). */
  readonly consumerConcurrency: number;
  /** How long an order may stay unfinished before the saga deadline cancels it. */
  readonly sagaDeadlineMs: number;
  /** How often each replica looks for orders past their deadline. */
  readonly sagaDeadlinePollMs: number;
  /** How long the payment worker waits for the provider before giving up (the deadline then cancels). */
  readonly paymentTimeoutMs: number;
  /** How long cancelOrder waits for the saga to apply the cancellation. */
  readonly cancelWaitMs: number;
}

export function loadOrdersConfig(env: EnvSource = process.env): OrdersConfig {
  const e = parseEnv('orders', schema, env);
  return {
    production: e.NODE_ENV === 'production',
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    kafkaBrokers: e.KAFKA_BROKERS,
    identitySecret: e.IDENTITY_SECRET ?? DEV_SECRETS.identity,
    consumerConcurrency: e.CONSUMER_CONCURRENCY,
    sagaDeadlineMs: e.SAGA_DEADLINE_MS,
    sagaDeadlinePollMs: e.SAGA_DEADLINE_POLL_MS,
    paymentTimeoutMs: e.PAYMENT_TIMEOUT_MS,
    cancelWaitMs: e.CANCEL_WAIT_MS,
  };
}
