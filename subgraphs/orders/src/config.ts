import { DEFAULT_PORTS, envDurationMs, parseEnv, serviceConfigFrom, serviceEnvSchema, type EnvSource, type ServiceConfig } from '@shop/service-kit';

const schema = serviceEnvSchema(DEFAULT_PORTS.orders, {
  SAGA_DEADLINE_MS: envDurationMs(30_000),
  SAGA_DEADLINE_POLL_MS: envDurationMs(250),
  PAYMENT_TIMEOUT_MS: envDurationMs(5_000),
  PAYMENT_INLINE_WAIT_MS: envDurationMs(100),
  CANCEL_WAIT_MS: envDurationMs(5_000),
});

export interface OrdersConfig extends ServiceConfig {
  /** How long an order may stay unfinished before the saga deadline cancels it. */
  readonly sagaDeadlineMs: number;
  /** How often each replica looks for orders past their deadline. */
  readonly sagaDeadlinePollMs: number;
  /** How long the payment worker waits for the provider before giving up (the deadline then cancels). */
  readonly paymentTimeoutMs: number;
  /**
   * How long the saga waits for the provider within its own step before handing the payment to the payment
   * worker (every order of the saga's batch waits with it); 0: always the worker.
   */
  readonly paymentInlineWaitMs: number;
  /** How long cancelOrder waits for the saga to apply the cancellation. */
  readonly cancelWaitMs: number;
}

export function loadOrdersConfig(env: EnvSource = process.env): OrdersConfig {
  const e = parseEnv('orders', schema, env);
  return {
    ...serviceConfigFrom(e),
    sagaDeadlineMs: e.SAGA_DEADLINE_MS,
    sagaDeadlinePollMs: e.SAGA_DEADLINE_POLL_MS,
    paymentTimeoutMs: e.PAYMENT_TIMEOUT_MS,
    paymentInlineWaitMs: e.PAYMENT_INLINE_WAIT_MS,
    cancelWaitMs: e.CANCEL_WAIT_MS,
  };
}
